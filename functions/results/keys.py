"""results' typed app keys."""

from aiohttp import web

from functions.results.settings import ResultsSettings

SETTINGS = web.AppKey("results_settings", ResultsSettings)
