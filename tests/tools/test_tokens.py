"""`python -m tools.tokens new`: a token and the configuration lines that admit it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.auth import authenticate, parse_tokens
from tools import tokens


@pytest.mark.parametrize("name", ["dashboard", 'the "ops" team', "back\\slash", "Zoë's laptop"])
def test_tokens_new_prints_a_file_entry_that_reads_back_with_any_name(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tokens.main(["new", "--name", name, "--scopes", "read,ingest"]) == 0
    printed = capsys.readouterr().out
    token = printed.splitlines()[0].rsplit(": ", 1)[1]
    entry = printed.split("METRICS_TOKENS_FILE entry:\n", 1)[1]
    file = tmp_path / "tokens.toml"
    file.write_text(entry)
    [parsed] = parse_tokens(None, str(file))
    assert parsed.name == name and parsed.scopes == {"read", "ingest"}
    assert authenticate((parsed,), token) == parsed


@pytest.mark.parametrize("name", ["a:b", "a,b", "line\nbreak", "  "])
def test_tokens_new_refuses_a_name_that_cannot_be_written(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        tokens.main(["new", "--name", name, "--scopes", "read"])
    assert refused.value.code == 2
    assert "a name is printable, without ':' or ','" in capsys.readouterr().err
