"""Every MIMI content example of draft-ietf-mimi-content-08 passes
`accord vectors --kind mimi-content`; a corrupted copy fails."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.cli.vectors_cmd import vectors

FOLDER = Path(__file__).parent / "mimi-content"
EXAMPLES = sorted(FOLDER.glob("*.cbor"))


def _run(*paths: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(vectors, ["--kind", "mimi-content", *map(str, paths)])
    return result.exit_code, result.output.strip().splitlines()


def test_folder_holds_every_example_with_its_edn() -> None:
    names = {p.stem for p in EXAMPLES}
    assert names == {"attachment", "delete", "edit", "mention", "multipart-1", "original",
                     "reaction", "reply", "unlike"}
    assert all(p.with_suffix(".edn").is_file() for p in EXAMPLES)


def test_copies_are_byte_identical_to_the_reference() -> None:
    """SHA256SUMS was made from the draft's example files themselves (README): the test
    data stays inside the repo."""
    sums = dict(line.split()[::-1] for line in (FOLDER / "SHA256SUMS").read_text().splitlines())
    copies = sorted(p.name for p in FOLDER.glob("*.*") if p.suffix in (".cbor", ".edn"))
    assert copies == sorted(sums)
    for name in copies:
        assert hashlib.sha256((FOLDER / name).read_bytes()).hexdigest() == sums[name], name


def test_every_example_passes() -> None:
    code, lines = _run(*EXAMPLES)
    assert code == 0, lines
    assert lines[-1] == f"{len(EXAMPLES)} passed, 0 failed"
    assert "original.cbor: ok: message ID 017ce54837404c3696e0c747b985cb17" \
           "2716d0ed0a3d249ca63ace7d82a096f4" in lines


def test_a_cbor_file_is_a_mimi_example_without_kind() -> None:
    result = CliRunner().invoke(vectors, [str(FOLDER / "unlike.cbor")])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "1 passed, 0 failed"


def _copy(tmp_path: Path, name: str) -> Path:
    for suffix in (".cbor", ".edn"):
        shutil.copy(FOLDER / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    return tmp_path / f"{name}.cbor"


def test_a_corrupted_salt_changes_the_message_id(tmp_path: Path) -> None:
    path = _copy(tmp_path, "edit")
    data = bytearray(path.read_bytes())
    data[2] ^= 0x01  # first octet of the salt
    path.write_bytes(bytes(data))
    code, lines = _run(path, FOLDER / "original.cbor")
    assert code == 1
    assert lines[0].startswith("edit.cbor: FAILED: ValidationError: message ID ")
    assert lines[-1] == "1 passed, 1 failed"


def test_a_wrong_stated_id_fails(tmp_path: Path) -> None:
    path = _copy(tmp_path, "reply")
    edn = path.with_suffix(".edn")
    edn.write_text(edn.read_text().replace("015354973c", "015354973d"))
    code, lines = _run(path)
    assert code == 1 and "message ID" in lines[0] and lines[-1] == "0 passed, 1 failed"


def test_a_non_deterministic_encoding_fails(tmp_path: Path) -> None:
    # The same document with the language "" as a two-byte length (0x7800): same value,
    # not the deterministic bytes, so refused rather than re-encoded differently.
    path = _copy(tmp_path, "delete")
    data = path.read_bytes()
    assert data.endswith(b"\x83\x01\x60\x00")
    path.write_bytes(data[:-4] + b"\x83\x01\x78\x00\x00")
    code, lines = _run(path)
    assert code == 1
    assert "DecodeError: integer or length not in its shortest form" in lines[0]


def test_a_missing_edn_fails(tmp_path: Path) -> None:
    path = _copy(tmp_path, "original")
    path.with_suffix(".edn").unlink()
    code, lines = _run(path)
    assert code == 1 and lines[0] == "original.cbor: FAILED: no original.edn beside it"


def test_a_re_encoding_that_differs_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The strict decoder already refuses every non-deterministic form, so this check only
    # fires if the encoder ever drifts from the decoder; drift it on purpose.
    from accord.content import mimi, mimi_vectors
    from accord.errors import ValidationError

    data = (FOLDER / "original.cbor").read_bytes()
    edn = (FOLDER / "original.edn").read_text()
    assert mimi_vectors.check_example(data, edn)[0] == 1
    monkeypatch.setattr(mimi, "encode_content", lambda c: data + b"\x00")
    with pytest.raises(ValidationError, match="re-encoding does not give the same bytes"):
        mimi_vectors.check_example(data, edn)
