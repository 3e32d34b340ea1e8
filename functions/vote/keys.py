"""vote's typed app keys."""

from aiohttp import web

from functions.vote.settings import VoteSettings

SETTINGS = web.AppKey("vote_settings", VoteSettings)
