"""The limiter's retry policy, as pure functions of the request and the answer."""

from decimal import Decimal

from actors.retries import MAX_ATTEMPTS, classify_reply, should_retry
from c2c import endpoints
from c2c.errors import Action

POLL = endpoints.list_orders("orders-1", page=1)
WRITE = endpoints.update_price("ads-1", adv_no="1", price=Decimal("1.00"))


def test_a_5xx_page_is_retried_for_a_read_but_never_for_a_write():
    action, _ = classify_reply(POLL, 502, (), b"<html>Bad Gateway</html>")
    assert action is Action.BACKOFF_AND_RETRY and should_retry(POLL, action, 1)
    action, _ = classify_reply(WRITE, 502, (), b"<html>Bad Gateway</html>")
    assert not should_retry(WRITE, action, 1)  # the price may have been taken: re-read first


def test_junk_200_to_a_write_is_not_resent():
    action, err = classify_reply(WRITE, 200, (), b"<html>ok?</html>")
    assert action is Action.ABORT and err is not None and not should_retry(WRITE, action, 1)


def test_a_stale_timestamp_is_retried_once_only():
    action, _ = classify_reply(POLL, 400, (), b'{"code":-1021,"msg":"Timestamp outside"}')
    assert action is Action.RESYNC_AND_RETRY
    assert should_retry(POLL, action, 1) and not should_retry(POLL, action, 2)


def test_retries_stop_after_the_last_attempt():
    action, _ = classify_reply(POLL, 429, (("Retry-After", "1"),), b'{"code":-1003,"msg":"x"}')
    assert should_retry(POLL, action, MAX_ATTEMPTS - 1)
    assert not should_retry(POLL, action, MAX_ATTEMPTS)


def test_a_success_is_neither_classified_nor_retried():
    ok = b'{"code":"000000","message":"success","data":[],"total":0,"success":true}'
    assert classify_reply(POLL, 200, (), ok) == (None, None)
