"""results' routes."""

from aiohttp import web

from functions.results import views

routes = [web.get("/analytics", views.analytics)]
