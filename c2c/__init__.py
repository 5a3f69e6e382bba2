"""The Binance C2C wire layer: pure pieces shared by the actors, the simulator, replay and tests.

- `endpoints`: build the calls as unsigned `events.ApiRequest`s.
- `http`: sign and turn an ApiRequest into the `httpx.Request` sent; request identity for replay.
- `decode` / `models`: typed answers, rate-limit headers, paging; `errors`: what went wrong and
  what to do about it; `timesync`: the server clock offset; `chat`: the chat socket's frames.
- `client`: one async helper performing a call, for tools and tests (the bot's limiter does HTTP
  itself with the pieces above).
"""
