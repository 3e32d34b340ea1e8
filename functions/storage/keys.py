"""storage's typed app keys (own module, so views and app import them without a cycle)."""

from aiohttp import web
from prometheus_client import Counter

from functions.storage.settings import StorageSettings
from functions.storage.store import VoteStore

SETTINGS = web.AppKey("storage_settings", StorageSettings)
STORE = web.AppKey("vote_store", VoteStore)
RECORDED = web.AppKey("votes_recorded", Counter)
