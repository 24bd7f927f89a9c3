"""`redis+sentinel://` URLs: several sentinels, a service, an optional database and passwords;
mistakes stop the sidecar with a message that never shows a password."""

from __future__ import annotations

import pytest

from server.backends import create_backend
from server.backends.sentinel import SentinelBackend, SentinelTarget, parse_sentinel_url
from server.errors import ConfigurationError


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,sentinel-3/mymaster",
            SentinelTarget((("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-3", 26379)), "mymaster"),
        ),
        (
            "redis+sentinel://:s3cret@s1:26379/cache/2",
            SentinelTarget((("s1", 26379),), "cache", db=2, password="s3cret"),
        ),
        (
            "redis+sentinel://app:p%40ss%3Aw%2Fd@[::1]:26379,s2/cache/0?sentinel_password=sp",
            SentinelTarget(
                (("::1", 26379), ("s2", 26379)),
                "cache",
                username="app",
                password="p@ss:w/d",
                sentinel_password="sp",
            ),
        ),
    ],
)
def test_a_sentinel_url_names_the_sentinels_the_service_the_database_and_the_passwords(
    url: str, target: SentinelTarget
) -> None:
    assert parse_sentinel_url(url) == target  # the passwords included: they take part in ==


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://:hunter2@s1:26379", "names no Sentinel service"),
        ("redis+sentinel://:hunter2@s1:26379/", "names no Sentinel service"),
        ("redis+sentinel://:hunter2@s1:26379/cache/first", "database must be a number, got 'first'"),
        ("redis+sentinel://:hunter2@s1:263790/cache", "invalid port: 's1:263790'"),
        ("redis+sentinel://:hunter2@s1,,s2/cache", "a Sentinel without a host"),
        ("redis+sentinel://:hunter2@s1/cache?ssl=true", "not supported with Sentinel: ssl"),
    ],
)
def test_a_wrong_sentinel_url_is_refused_without_showing_its_password(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        create_backend(url)
    assert "hunter2" not in str(refused.value)


def test_the_scheme_chooses_the_sentinel_backend_and_its_target_hides_the_passwords() -> None:
    backend = create_backend("redis+sentinel://:s3cret@s1/cache?sentinel_password=sentinel-secret")
    assert isinstance(backend, SentinelBackend)
    assert backend.target.sentinel_password == "sentinel-secret"
    assert "s3cret" not in repr(backend.target) and "sentinel-secret" not in repr(backend.target)


def test_an_unknown_scheme_names_the_sentinel_form_among_those_supported() -> None:
    with pytest.raises(ConfigurationError, match=r"unix:// or redis\+sentinel://"):
        create_backend("sentinel://s1/cache")
