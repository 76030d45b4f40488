"""Templates: TR-31 codes, label patterns, the seed set."""

from datetime import UTC, datetime

import pytest

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.policy import Action, Quorum
from workstation.domain.templates import KeyTemplate, render_label, seed_templates
from workstation.errors import BadInput


def base(**changes):
    fields = dict(
        id="t",
        name="Test",
        description="",
        algorithm=KeyAlgorithm.AES_256,
        key_usage="K0",
        mode_of_use="B",
        exportability="E",
        crypto_period_days=365,
        label_pattern="T-{seq:04d}",
    )
    fields.update(changes)
    return KeyTemplate(**fields)


def test_seed_templates_cover_the_systems_replaced():
    names = {t.name for t in seed_templates()}
    for expected in (
        "ATM terminal master key",
        "Zone master key (KEK)",
        "TDES base derivation key",
        "AES base derivation key",
        "PIN encryption key",
        "MAC key",
        "Card verification key",
        "PIN verification key",
        "EMV issuer master key (AC)",
        "EMV issuer master key (SMI)",
        "EMV issuer master key (SMC)",
        "EMV issuer key pair",
        "ATM EPP key pair",
        "TLS server key pair",
    ):
        assert expected in names
    for t in seed_templates():
        assert KeyTemplate.from_record(t.to_record()) == t


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key_usage": "Z9"}, "unknown TR-31 key usage"),
        ({"mode_of_use": "Q"}, "unknown TR-31 mode of use"),
        ({"exportability": "X"}, "exportability must be E, N or S"),
        ({"crypto_period_days": 0}, "crypto-period"),
        ({"label_pattern": "FIXED"}, "must contain {seq}"),
        ({"label_pattern": "K-{seq}-{colour}"}, "unknown field"),
        ({"key_usage": "S0"}, "is for a key pair"),
        ({"algorithm": KeyAlgorithm.RSA_2048}, "is for a secret key"),
        ({"quorums": {Action.CHANGE_POLICY: Quorum.parse("1 supervisor")}}, "only be set for key"),
        ({"name": " "}, "needs a name"),
    ],
)
def test_template_validation(changes, message):
    with pytest.raises(BadInput, match=message):
        base(**changes)


def test_label_rendering():
    when = datetime(2026, 3, 4, tzinfo=UTC)
    assert (
        render_label("ZMK-{date}-{seq:04d}", seq=12, when=when, template="z", version=1)
        == "ZMK-20260304-0012"
    )
    assert (
        render_label(
            "{template}/{year}/{seq}/v{version}", seq=1, when=when, template="pek", version=3
        )
        == "pek/2026/1/v3"
    )


def test_the_bin_field_of_a_label():
    when = datetime(2026, 3, 4, tzinfo=UTC)
    pattern = "EMV-ISS-{bin}-{seq:04d}"
    assert base(label_pattern=pattern).label_pattern == pattern  # an accepted field
    assert (
        render_label(pattern, seq=2, when=when, template="i", version=1, bin="400000")
        == "EMV-ISS-400000-0002"
    )
    # Generated outside a job for a BIN, the key says it has none.
    assert render_label(pattern, seq=2, when=when, template="i", version=1) == "EMV-ISS-NOBIN-0002"


def test_the_emv_issuer_key_pair_seed():
    (issuer,) = [t for t in seed_templates() if t.name == "EMV issuer key pair"]
    # EMV Book 2 Annex B2.1: at most 1984 bits; X9.143 has no EMV issuer pair usage: S0.
    assert issuer.algorithm is KeyAlgorithm.RSA_1984 and issuer.algorithm.bits == 1984
    assert (issuer.key_usage, issuer.mode_of_use, issuer.exportability) == ("S0", "S", "E")
    assert "{bin}" in issuer.label_pattern
    assert issuer.allows(Action.MANAGE_CERTIFICATES)


def test_non_exportable_template_refuses_export():
    t = base(exportability="N")
    assert not t.allows(Action.EXPORT_KEY)
    assert t.allows(Action.ROTATE_KEY)


def test_edit_bumps_version():
    t = base()
    assert t.edited(description="x").version == 2


def test_algorithm_parse():
    assert KeyAlgorithm.parse("tdes-2k") is KeyAlgorithm.TDES_2KEY
    assert KeyAlgorithm.EC_P521.bits == 521
    assert KeyAlgorithm.parse("rsa1408") is KeyAlgorithm.RSA_1408
    assert KeyAlgorithm.parse("RSA-1984").bits == 1984
    assert not KeyAlgorithm.RSA_1984.is_symmetric
    assert KeyAlgorithm.AES_192.key_bytes == 24
    with pytest.raises(BadInput, match="Unknown key algorithm"):
        KeyAlgorithm.parse("blowfish")


def test_key_pair_algorithm_lists():
    from workstation.domain.algorithms import key_pair_algorithms, name_list, rsa_algorithm

    assert name_list(key_pair_algorithms()) == (
        "RSA-1408, RSA-1984, RSA-2048, RSA-3072, RSA-4096, EC-P256, EC-P384 or EC-P521"
    )
    assert KeyAlgorithm.RSA_1984 not in key_pair_algorithms(min_rsa_bits=2048)
    assert rsa_algorithm(1408) is KeyAlgorithm.RSA_1408 and rsa_algorithm(1024) is None


def test_time_format_round_trip():
    from datetime import timedelta, timezone

    from workstation.domain.records import format_time, parse_time

    t = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert format_time(t) == "2026-01-02T03:04:05.000006Z"
    assert parse_time(format_time(t)) == t
    cet = t.astimezone(timezone(timedelta(hours=1)))
    assert format_time(cet) == "2026-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        parse_time("2026-01-02")
