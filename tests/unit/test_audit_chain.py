"""The audit chain format and the standalone verifier (workstation.standalone.audit_verify)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.domain.records import canonical_bytes
from workstation.standalone.audit_verify import (
    GENESIS_HASH,
    ChainCheckpoint,
    ExportFormatError,
    canonical,
    checkpoint_message,
    entry_hash,
    main,
    read_export,
    verify_chain,
    verify_export,
    write_export,
)

WS = "ws-primary-01"
Entry = tuple[int, dict[str, Any], bytes, bytes]

# One key for the whole module: generating is cheap, but hypothesis runs many examples.
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def body(seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": f"2026-11-24T09:{seq // 60 % 60:02d}:{seq % 60:02d}.000000Z",
        "action": "key.generate" if seq % 2 else "key.activate",
        "object_type": "key",
        "object_id": f"k-{seq}",
        "object_label": f"ZMK-{seq:04d}",
        "before": None,
        "after": "active",
        "kcv": "A1B2C3",
        "details": {"note": "Zoë", "n": seq},
        "requester": {"person_id": "p-1", "name": "Alice", "card": "0123456789ab"},
        "members": [],
        **extra,
    }


def build(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        b = body(seq)
        h = entry_hash(prev, b)
        entries.append((seq, b, prev, h))
        prev = h
    return entries


def rechain(entries: list[Entry]) -> list[Entry]:
    """What a forger with write access does after an edit: recompute every hash."""
    out: list[Entry] = []
    prev = GENESIS_HASH
    for seq, b, _, _ in entries:
        h = entry_hash(prev, b)
        out.append((seq, b, prev, h))
        prev = h
    return out


def sign(
    entries: list[Entry],
    seq: int,
    key: ec.EllipticCurvePrivateKey = KEY,
    at: str = "2026-11-24T12:00:00.000000Z",
    ws: str = WS,
) -> ChainCheckpoint:
    h = entries[seq - 1][3]
    signature = key.sign(checkpoint_message(ws, seq, h, at), ec.ECDSA(hashes.SHA256()))
    return (seq, h, at, signature)


def verify(
    entries: list[Entry],
    checkpoints: list[ChainCheckpoint] | None = None,
    key: ec.EllipticCurvePrivateKey | None = KEY,
) -> Any:
    return verify_chain(entries, checkpoints or [], key.public_key() if key else None, WS)


# --- the format --------------------------------------------------------------------------


def test_entry_hash_is_the_documented_formula() -> None:
    b = body(1)
    text = json.dumps(b, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    expected = hashlib.sha256(b"kcw-audit-entry-v1\x00" + GENESIS_HASH + text).digest()
    assert entry_hash(GENESIS_HASH, b) == expected
    assert entry_hash(GENESIS_HASH, dict(reversed(list(b.items())))) == expected
    assert entry_hash(expected, b) != expected  # the previous hash is bound
    # A fixed vector pins the format: changing it breaks every exported log.
    assert entry_hash(GENESIS_HASH, {"seq": 1, "action": "x"}).hex() == (
        hashlib.sha256(
            b"kcw-audit-entry-v1\x00" + bytes(32) + b'{"action":"x","seq":1}'
        ).hexdigest()
    )
    with pytest.raises(ValueError):
        entry_hash(b"short", b)


def test_checkpoint_message_is_the_documented_bytes() -> None:
    h = bytes(range(32))
    assert checkpoint_message(WS, 17, h, "2026-11-24T12:00:00.000000Z") == (
        b"kcw-audit-checkpoint-v1\x00"
        + b'{"at":"2026-11-24T12:00:00.000000Z","hash":"'
        + h.hex().encode()
        + b'","seq":17,"workstation_id":"ws-primary-01"}'
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_canonical_agrees_with_the_domain_encoding(record: dict[str, Any]) -> None:
    assert canonical(record) == canonical_bytes(record)
    assert canonical(json.loads(canonical(record))) == canonical(record)


# --- verification ------------------------------------------------------------------------


def test_a_valid_chain_verifies() -> None:
    entries = build(25)
    report = verify(entries, [sign(entries, 10), sign(entries, 20)])
    assert report.ok and report.problem is None and report.problems_total == 0
    assert report.entries_checked == 25
    assert (report.first_seq, report.last_seq) == (1, 25)
    assert report.checkpoints_checked == 2 and report.checkpoints_valid == 2
    assert report.last_signed_seq == 20 and report.uncovered_entries == 5
    assert any("5 entries after entry 20 not yet covered" in w for w in report.warnings)
    assert "VERIFIED" in report.summary()


def test_fully_covered_chain_has_no_warning() -> None:
    entries = build(5)
    report = verify(entries, [sign(entries, 5)])
    assert report.ok and report.uncovered_entries == 0 and report.warnings == ()


def test_empty_log_verifies() -> None:
    report = verify([])
    assert report.ok and report.entries_checked == 0 and report.last_seq is None


def test_edit_is_named() -> None:
    entries = build(30)
    seq, b, prev, h = entries[16]
    entries[16] = (seq, {**b, "after": "destroyed"}, prev, h)
    report = verify(entries, [sign(build(30), 30)])
    assert not report.ok
    assert report.problem == "entry 17: hash does not match its content (edited?)"
    assert report.problems_total == 1  # the check resynchronises after a bad entry


def test_deletion_is_named() -> None:
    entries = build(30)
    del entries[16]
    report = verify(entries)
    assert report.problem == "entry 18 follows entry 16 (entry 17 deleted?)"
    del entries[16:19]
    assert verify(entries).problem == "entry 21 follows entry 16 (entries 17 to 20 deleted?)"


def test_deleting_the_first_entry_is_named() -> None:
    assert verify(build(5)[1:]).problem == "entry 2 is the first entry (entry 1 deleted?)"


def test_insertion_is_named() -> None:
    entries = build(10)
    # a duplicate seq
    dup = list(entries)
    dup.insert(5, entries[4])
    assert verify(dup).problem == "entry 5 appears twice (inserted?)"
    # a forged entry that takes seq 5 and renumbers the rest (the stored rows move up)
    forged_body = body(5, action="key.export")
    forged = (5, forged_body, entries[3][3], entry_hash(entries[3][3], forged_body))
    shifted = [(s + 1, b, p, h) for s, b, p, h in entries[4:]]
    report = verify([*entries[:4], forged, *shifted])
    assert report.problem == (
        "entry 6: prev_hash is not the hash of entry 5 "
        "(an entry inserted, deleted or replaced before it?)"
    )


def test_reordering_is_named() -> None:
    entries = build(10)
    entries[4], entries[5] = entries[5], entries[4]
    report = verify(entries)
    assert report.problem == "entry 6 follows entry 4 (entry 5 deleted?)"
    assert report.problems[1].message == (
        "entry 5 follows entry 6 (out of order: moved or inserted?)"
    )


def test_rewritten_chain_is_caught_by_the_checkpoint() -> None:
    honest = build(40)
    checkpoints = [sign(honest, 10), sign(honest, 20), sign(honest, 30)]
    forged = list(honest)
    seq, b, prev, h = forged[24]
    forged[24] = (seq, {**b, "after": "destroyed"}, prev, h)
    forged = rechain(forged)
    assert verify(forged).ok  # without checkpoints the forgery is consistent
    report = verify(forged, checkpoints)
    assert not report.ok
    assert report.problem == (
        "entry 30: its hash differs from the checkpoint signed at 2026-11-24T12:00:00.000000Z "
        "(the log was rewritten after entry 20, the last checkpointed entry that matches?)"
    )
    assert report.last_signed_seq == 20


def test_forged_checkpoint_signature() -> None:
    entries = build(10)
    good = sign(entries, 10)
    forged_by_other = sign(entries, 10, key=OTHER_KEY)
    report = verify(entries, [sign(entries, 5), forged_by_other])
    assert not report.ok
    assert report.problem is not None
    assert report.problem.startswith("checkpoint at entry 10 (signed 2026-11-24T12:00:00.000000Z)")
    assert "does not verify" in report.problem
    assert report.last_signed_seq == 5 and report.checkpoints_valid == 1
    # a valid signature over a changed time, or for another workstation, fails as well
    moved = (good[0], good[1], "2026-11-25T00:00:00.000000Z", good[3])
    assert not verify(entries, [moved]).ok
    assert not verify_chain(entries, [good], KEY.public_key(), "ws-other").ok
    garbage = (good[0], good[1], good[2], b"\x30\x00")
    assert not verify(entries, [garbage]).ok


def test_truncation_is_caught_by_a_checkpoint_beyond_the_end() -> None:
    entries = build(30)
    checkpoints = [sign(entries, 20), sign(entries, 30)]
    report = verify(entries[:25], checkpoints)
    assert not report.ok
    assert report.problem == (
        "checkpoint at entry 30 (signed 2026-11-24T12:00:00.000000Z) is beyond the last "
        "entry 25 (entries 26 to 30 deleted?)"
    )
    empty = verify([], checkpoints[:1])
    assert empty.problem is not None and "entries 1 to 20 deleted?" in empty.problem


def test_truncation_after_the_last_checkpoint_is_a_warning_only() -> None:
    entries = build(30)
    report = verify(entries[:25], [sign(entries, 20)])
    assert report.ok and report.uncovered_entries == 5


def test_no_public_key_checks_hashes_but_not_signatures() -> None:
    entries = build(10)
    report = verify(entries, [sign(entries, 10, key=OTHER_KEY)], key=None)
    assert report.ok and not report.signatures_checked
    assert report.last_signed_seq is None and report.uncovered_entries == 10
    assert "signatures were not checked" in report.warnings[0]


def test_bytes_bodies_verify_like_dicts() -> None:
    entries = build(12)
    as_bytes = [(s, canonical(b), p, h) for s, b, p, h in entries]
    assert verify(as_bytes, [sign(entries, 12)]).ok
    tampered = list(as_bytes)
    s, b, p, h = tampered[6]
    tampered[6] = (s, b.replace(b"key.generate", b"key.generatf"), p, h)
    assert verify(tampered).problem == "entry 7: hash does not match its content (edited?)"


def test_an_entry_whose_body_names_another_seq() -> None:
    # Hash-valid but written with a wrong seq in the body: only the writer could do that.
    b = body(2)
    wrong = [(1, b, GENESIS_HASH, entry_hash(GENESIS_HASH, b))]
    assert verify(wrong).problem == "entry 1: its body names another seq (moved?)"
    raw = [(1, canonical(b), GENESIS_HASH, entry_hash(GENESIS_HASH, b))]
    assert verify(raw).problem == "entry 1: its body names another seq (moved?)"


def test_many_problems_are_counted_but_few_kept() -> None:
    entries = build(300)
    edited = [(s, {**b, "kcv": "000000"}, p, h) for s, b, p, h in entries]
    report = verify(edited)
    assert report.problems_total == 300 and len(report.problems) == 100
    assert report.problems[0].seq == 1 and "... and 200 more" in report.summary()


Mutation = Callable[[list[Entry], int, int], list[Entry]]


def _edit(entries: list[Entry], i: int, _: int) -> list[Entry]:
    s, b, p, h = entries[i]
    return [*entries[:i], (s, {**b, "kcv": "FFFFFF"}, p, h), *entries[i + 1 :]]


def _delete(entries: list[Entry], i: int, _: int) -> list[Entry]:
    return entries[:i] + entries[i + 1 :]


def _duplicate(entries: list[Entry], i: int, _: int) -> list[Entry]:
    return entries[: i + 1] + entries[i:]


def _swap(entries: list[Entry], i: int, j: int) -> list[Entry]:
    out = list(entries)
    out[i], out[j] = out[j], out[i]
    return out


def _flip_hash(entries: list[Entry], i: int, _: int) -> list[Entry]:
    s, b, p, h = entries[i]
    return [*entries[:i], (s, b, p, bytes([h[0] ^ 1]) + h[1:]), *entries[i + 1 :]]


def _flip_prev(entries: list[Entry], i: int, _: int) -> list[Entry]:
    s, b, p, h = entries[i]
    return [*entries[:i], (s, b, bytes([p[0] ^ 1]) + p[1:], h), *entries[i + 1 :]]


def _edit_and_rechain(entries: list[Entry], i: int, _: int) -> list[Entry]:
    return rechain(_edit(entries, i, 0))


def _renumber(entries: list[Entry], i: int, _: int) -> list[Entry]:
    s, b, p, h = entries[i]
    return [*entries[:i], (s + 1000, b, p, h), *entries[i + 1 :]]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    data=st.data(),
    mutation=st.sampled_from(
        [_edit, _delete, _duplicate, _swap, _flip_hash, _flip_prev, _edit_and_rechain, _renumber]
    ),
)
def test_any_single_mutation_of_a_signed_chain_is_detected(
    n: int, data: st.DataObject, mutation: Mutation
) -> None:
    entries = build(n)
    checkpoints = [sign(entries, n)]
    assert verify(entries, checkpoints).ok
    i = data.draw(st.integers(min_value=0, max_value=n - 1), label="i")
    j = data.draw(st.integers(min_value=0, max_value=n - 1), label="j")
    if mutation is _swap and i == j:
        j = (i + 1) % n
        if i == j:  # a one-entry chain has nothing to swap
            return
    mutated = mutation(entries, i, j)
    report = verify(mutated, checkpoints)
    assert not report.ok, (mutation.__name__, i, j)
    assert report.problem


# --- export files ------------------------------------------------------------------------


def public_pem(key: ec.EllipticCurvePrivateKey = KEY) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def export(
    tmp_path: Path,
    entries: list[Entry],
    checkpoints: list[ChainCheckpoint],
    *,
    stream: bool = False,
    name: str = "audit.jsonl",
) -> Path:
    path = tmp_path / name
    written = write_export(
        path,
        workstation_id=WS,
        public_key_pem=public_pem(),
        entries=(e for e in entries) if stream else entries,
        checkpoints=checkpoints,
        exported_at="2026-11-24T13:00:00.000000Z",
    )
    assert written == len(entries)
    return path


@pytest.mark.parametrize("stream", [False, True])
def test_export_round_trip(tmp_path: Path, stream: bool) -> None:
    entries = build(30)
    checkpoints = [sign(entries, 30), sign(entries, 10)]
    path = export(tmp_path, entries, checkpoints, stream=stream)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl"]  # no temp files left
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1 + 2 + 30
    header = json.loads(lines[0])
    assert header == {
        "format": "kcw-audit-export",
        "version": 1,
        "workstation_id": WS,
        "exported_at": "2026-11-24T13:00:00.000000Z",
        "public_key_pem": public_pem(),
        "entries": 30,
        "checkpoints": 2,
    }
    assert json.loads(lines[1])["checkpoint"]["seq"] == 10  # checkpoints in seq order
    assert json.loads(lines[3]) == {
        "seq": 1,
        "body": entries[0][1],
        "prev_hash": bytes(32).hex(),
        "hash": entries[0][3].hex(),
    }
    parsed = read_export(path)
    assert (parsed.workstation_id, parsed.entry_count) == (WS, 30)
    assert parsed.checkpoints == (checkpoints[1], checkpoints[0])
    read = list(parsed.entries())
    assert [(s, json.loads(b), p, h) for s, b, p, h in read] == entries  # type: ignore[arg-type]
    report = verify_export(parsed, KEY.public_key())
    assert report.ok and report.last_signed_seq == 30


def test_export_of_stored_bytes_is_identical(tmp_path: Path) -> None:
    entries = build(5)
    raw = [(s, canonical(b), p, h) for s, b, p, h in entries]
    a = export(tmp_path, entries, [], name="a.jsonl")
    b = export(tmp_path, raw, [], name="b.jsonl")  # type: ignore[arg-type]
    assert a.read_bytes() == b.read_bytes()


def test_a_reformatted_export_still_verifies(tmp_path: Path) -> None:
    entries = build(5)
    path = export(tmp_path, entries, [sign(entries, 5)])
    lines = path.read_text().splitlines()
    lines[4] = json.dumps(json.loads(lines[4]), indent=None)  # spaces, another key order
    path.write_text("\r\n".join(lines) + "\r\n")
    assert verify_export(read_export(path), KEY.public_key()).ok


def _with_line(path: Path, number: int, text: str | None) -> None:
    lines = path.read_text().splitlines()
    if text is None:
        del lines[number - 1]
    else:
        lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


ENTRY4 = '{"seq":2,"body":{"seq":2},"prev_hash":"' + "00" * 32 + '","hash":"' + "11" * 32 + '"}'


@pytest.mark.parametrize(
    ("number", "text", "message"),
    [
        (1, '{"format":"something-else"}', "line 1: field 'format' must be 'kcw-audit-export'"),
        (1, "not json", "line 1: not valid JSON"),
        (1, '{"format":"kcw-audit-export","version":2}', "line 1: field 'version' is 2"),
        (
            1,
            '{"format":"kcw-audit-export","version":1}',
            "line 1: field 'workstation_id' is missing",
        ),
        (
            2,
            '{"checkpoint":{"seq":1,"hash":"' + "zz" * 32 + '","at":"x","signature":"00"}}',
            "line 2: field 'hash' is not hexadecimal",
        ),
        (
            2,
            '{"checkpoint":{"seq":1,"hash":"00","at":"x","signature":"00"}}',
            "line 2: field 'hash' must be 64 hex digits, not 2",
        ),
        (2, '{"seq":1}', "line 2: expected a checkpoint"),
        (4, ENTRY4.replace(',"hash":"' + "11" * 32 + '"', ""), "line 4: field 'hash' is missing"),
        (
            4,
            ENTRY4.replace('"seq":2,"body"', '"seq":"2","body"'),
            "line 4: field 'seq' must be an integer",
        ),
        (4, ENTRY4.replace('"hash":"11', '"hash":"1'), "line 4: field 'hash' must be 64 hex"),
        (4, ENTRY4.replace('{"seq":2}', "[]"), "line 4: field 'body' must be a JSON object"),
        (4, ENTRY4[:-1] + ',"extra":1}', "line 4: unknown field 'extra' in an entry"),
        (4, "", "line 4: empty line"),
        (4, '{"body":{"seq":2', "line 4: not valid JSON"),
        (
            4,
            '{"checkpoint":{"seq":1,"hash":"00","at":"x","signature":"00"}}',
            "line 4: a checkpoint after the entries",
        ),
    ],
)
def test_read_export_names_the_bad_line(
    tmp_path: Path, number: int, text: str, message: str
) -> None:
    entries = build(3)
    path = export(tmp_path, entries, [sign(entries, 2)])
    _with_line(path, number, text)
    with pytest.raises(ExportFormatError) as info:
        parsed = read_export(path)
        list(parsed.entries())
    assert str(info.value).startswith(message), str(info.value)


def test_read_export_of_an_empty_or_short_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(ExportFormatError, match="line 1: the file is empty"):
        read_export(path)
    entries = build(2)
    path = export(tmp_path, entries, [sign(entries, 1), sign(entries, 2)])
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(ExportFormatError, match="line 3: the file ends; the header announces 2"):
        read_export(path)


def test_removed_line_with_a_fixed_header_count_mismatch(tmp_path: Path) -> None:
    entries = build(6)
    path = export(tmp_path, entries, [sign(entries, 3)])
    _with_line(path, 8, None)  # the last entry, which no checkpoint covers
    report = verify_export(read_export(path), KEY.public_key())
    assert not report.ok
    assert report.problem == (
        "the header announces 6 entries but the file holds 5 (lines removed or added?)"
    )


# --- the command -------------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit-key.pem"
    path.write_text(public_pem())
    return path


def test_main_verified(tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = build(20)
    path = export(tmp_path, entries, [sign(entries, 15)])
    assert main([str(path), "--public-key", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "20 checked (seq 1 to 20)" in out
    assert "5 entries after entry 15 not yet covered" in out


def test_main_json(tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = build(3)
    path = export(tmp_path, entries, [sign(entries, 3)])
    assert main([str(path), "--public-key", str(key_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["entries_checked"] == 3
    assert result["last_signed_seq"] == 3 and result["problems"] == []


def test_main_tampered_file_names_the_entry(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = build(20)
    path = export(tmp_path, entries, [sign(entries, 20)])
    lines = path.read_text().splitlines()
    lines[2 + 12] = lines[2 + 12].replace('"after":"active"', '"after":"destroyed"')
    path.write_text("\n".join(lines) + "\n")
    assert main([str(path), "--public-key", str(key_file)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: entry 13: hash does not match its content (edited?)" in out


def test_main_trust_anchor_differs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = build(3)
    path = export(tmp_path, entries, [sign(entries, 3)])
    other = tmp_path / "other.pem"
    other.write_text(public_pem(OTHER_KEY))
    assert main([str(path), "--public-key", str(other)]) == 1
    out = capsys.readouterr().out
    assert "embeds a different public key" in out
    assert "checkpoint at entry 3" in out  # and its signature does not verify with the anchor


def test_main_bad_input_exits_2(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = build(3)
    path = export(tmp_path, entries, [])
    assert main([str(path)]) == 2  # --public-key is required
    assert main([str(tmp_path / "missing.jsonl"), "--public-key", str(key_file)]) == 2
    assert "cannot read" in capsys.readouterr().err
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    assert main([str(path), "--public-key", str(not_pem)]) == 2
    assert "not a PEM public key" in capsys.readouterr().err
    rsa_pem = tmp_path / "rsa.pem"
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_pem.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert main([str(path), "--public-key", str(rsa_pem)]) == 2
    assert "not an EC P-256 public key" in capsys.readouterr().err
    _with_line(path, 3, "garbage")
    assert main([str(path), "--public-key", str(key_file), "--json"]) == 2
    captured = capsys.readouterr()
    assert "line 3: not valid JSON" in captured.err
    assert json.loads(captured.out)["ok"] is False


def test_runs_as_a_single_copied_file(tmp_path: Path, key_file: Path) -> None:
    """An auditor copies audit_verify.py alone and runs it with any Python + cryptography."""
    import shutil
    import subprocess
    import sys

    import workstation.standalone.audit_verify as module

    alone = tmp_path / "auditor"
    alone.mkdir()
    script = Path(shutil.copy(module.__file__, alone / "audit_verify.py"))
    entries = build(4)
    path = export(tmp_path, entries, [sign(entries, 4)])
    # -I: isolated mode (no working tree, no PYTHONPATH); and any import of the workstation
    # package fails, even through the virtualenv's editable install.
    blocker = (
        "import runpy, sys; sys.modules['workstation'] = None; "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    command = [sys.executable, "-I", "-c", blocker, str(script), str(path)]
    command += ["--public-key", str(key_file)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=alone, check=False)
    assert done.returncode == 0, done.stderr
    assert "VERIFIED" in done.stdout
