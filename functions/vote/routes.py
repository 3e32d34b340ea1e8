"""vote's routes."""

from aiohttp import web

from functions.vote import views

routes = [
    web.get("/", views.index),
    web.post("/", views.cast),
    web.post("/featureflag/set", views.featureflag_set),
    web.post("/featureflag/clear", views.featureflag_clear),
]
