"""storage's routes."""

from aiohttp import web

from functions.storage import views

routes = [
    web.post("/votes", views.record_vote),
    web.get("/counts", views.counts),
]
