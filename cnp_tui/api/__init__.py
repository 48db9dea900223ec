"""The REST + WebSocket API (aiohttp.web), served by the engine process.

Everything goes through ``JobService`` (the same validation and objects as the CLI); this
package is the only one besides the CLI that imports ``aiohttp.web``, and it is imported lazily
(``cnp job list`` never loads it).
"""
