"""TR-34 under random and mutated input: a TR34Error every time, never another exception.

Three kinds of input: random bytes and random DER trees for every reader; valid key tokens
with bytes flipped, replaced, cut or inserted; and valid tokens whose EnvelopedData or signed
attributes had a random part replaced and were then *signed again by the KDH*, so that the
parser goes past the signature into the recipient, cipher, padding and KeyBlock layers. A
mutated token is either refused with TR34Error or, if what changed was not significant (a
DER-equivalent re-encoding cannot happen here, but a signed-again token can still be sound),
it must yield the very key and header that were sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.standards.test_tr34 import (
    NOW,
    SAMPLE_KEY,
    SAMPLE_NONCE,
    Pki,
    econtent,
    make_pki,
    make_token,
    read_node,
    resign,
    signed_data,
    signer_info,
    tlv,
    with_econtent,
)
from workstation.standards import tr34
from workstation.standards.tr34 import TR34Error

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HEADER = "A0256K0TB00E0000"


@cache
def world() -> tuple[Pki, dict[str, tuple[bytes, bytes | None]]]:
    """The PKI and valid tokens (token, the nonce it needs), made once."""
    pki = make_pki()
    tokens = {
        "2019 two-pass aes": (make_token(pki), SAMPLE_NONCE),
        "2012 one-pass tdes": (
            make_token(
                pki,
                edition="2012",
                content_cipher="tdes",
                nonce=None,
                signing_time=datetime(2026, 5, 1, tzinfo=UTC),
            ),
            None,
        ),
    }
    return pki, tokens


def open_as_krd(token: bytes, nonce: bytes | None) -> tr34.ReceivedKey:
    """Open as the KRD; the KDH certificate is given only for the one-pass (2012) token, the
    2019 token brings its own."""
    pki, _ = world()
    return tr34.open_key_token(
        token,
        krd_decrypt=tr34.decryptor_for(pki.krd_key),
        krd_certificate=pki.krd,
        ca_certificates=[pki.ca],
        nonce=nonce,
        now=NOW,
        kdh_certificate=None if nonce else pki.kdh,
    )


def readers() -> dict[str, Callable[[bytes], object]]:
    pki, _ = world()
    return {
        "read_key_token": tr34.read_key_token,
        "open_key_token": lambda data: open_as_krd(data, SAMPLE_NONCE),
        "verify_key_token_signature": lambda data: tr34.verify_key_token_signature(
            data, kdh_certificate=pki.kdh
        ),
        "read_credential_token": tr34.read_credential_token,
        "read_random_number_token": tr34.read_random_number_token,
        "decode_key_block": tr34.decode_key_block,
        "decrypt_enveloped_data 2019": lambda data: tr34.decrypt_enveloped_data(
            data, content_key=bytes(16)
        ),
        "decrypt_enveloped_data 2012": lambda data: tr34.decrypt_enveloped_data(
            data, content_key=bytes(24), edition="2012"
        ),
        "verify_certificate_chain": lambda data: tr34.verify_certificate_chain(
            data, ca_certificates=[pki.ca], now=NOW, usage="digital_signature"
        ),
        "oaep_decode": tr34.oaep_decode,
    }


READER_NAMES = sorted(
    [
        "read_key_token",
        "open_key_token",
        "verify_key_token_signature",
        "read_credential_token",
        "read_random_number_token",
        "decode_key_block",
        "decrypt_enveloped_data 2019",
        "decrypt_enveloped_data 2012",
        "verify_certificate_chain",
        "oaep_decode",
    ]
)

PRIMITIVE_TAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x17, 0x18, 0x80, 0x81, 0x82]
CONSTRUCTED_TAGS = [0x30, 0x31, 0xA0, 0xA1, 0xA2, 0xA3]


def der_trees() -> st.SearchStrategy[bytes]:
    """Random well-formed DER trees: they get past the DER check into the parsers."""
    leaves = st.builds(
        lambda tag, body: tlv(tag, body), st.sampled_from(PRIMITIVE_TAGS), st.binary(max_size=40)
    )
    return st.recursive(
        leaves,
        lambda children: st.builds(
            lambda tag, parts: tlv(tag, *parts),
            st.sampled_from(CONSTRUCTED_TAGS),
            st.lists(children, max_size=5),
        ),
        max_leaves=25,
    )


def refused_or_returns(reader: Callable[[bytes], object], data: bytes) -> None:
    try:
        reader(data)
    except TR34Error:
        pass


@PROPERTY
@given(name=st.sampled_from(READER_NAMES), data=st.binary(max_size=600))
def test_random_bytes_are_refused(name: str, data: bytes) -> None:
    refused_or_returns(readers()[name], data)


@PROPERTY
@given(name=st.sampled_from(READER_NAMES), data=der_trees())
def test_random_der_trees_are_refused(name: str, data: bytes) -> None:
    refused_or_returns(readers()[name], data)


def mutations(token: bytes) -> st.SearchStrategy[bytes]:
    size = len(token)
    position = st.integers(0, size - 1)
    flip = st.builds(
        lambda i, x: token[:i] + bytes([token[i] ^ x]) + token[i + 1 :],
        position,
        st.integers(1, 255),
    )
    replace = st.builds(
        lambda i, junk: token[:i] + junk + token[i + len(junk) :],
        position,
        st.binary(min_size=1, max_size=16),
    )
    cut = st.builds(lambda i: token[:i], position)
    insert = st.builds(
        lambda i, junk: token[:i] + junk + token[i:], position, st.binary(min_size=1, max_size=8)
    )
    delete = st.builds(lambda i, n: token[:i] + token[i + n :], position, st.integers(1, 8))
    return st.one_of(flip, replace, cut, insert, delete).filter(lambda t: t != token)


def same_key_or_refused(token: bytes, nonce: bytes | None) -> None:
    try:
        received = open_as_krd(token, nonce)
    except TR34Error:
        return
    # Accepted: then nothing that matters changed (e.g. SignedData version 1 became 3).
    assert received.key == SAMPLE_KEY
    assert received.header == HEADER


@PROPERTY
@given(data=st.data(), which=st.sampled_from(["2019 two-pass aes", "2012 one-pass tdes"]))
def test_mutated_tokens_are_refused(data: st.DataObject, which: str) -> None:
    token, nonce = world()[1][which]
    same_key_or_refused(data.draw(mutations(token)), nonce)


def node_paths(raw: bytes, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """The paths (child indices) of every element under ``raw``, constructed ones descended."""
    node = read_node(raw)
    paths = [prefix]
    if node.tag & 0x20:
        for index, child in enumerate(node.children()):
            paths += node_paths(child.raw, (*prefix, index))
    return paths


def replace_at(raw: bytes, path: tuple[int, ...], new: bytes) -> bytes:
    """``raw`` with the element at ``path`` replaced by ``new``, every length rebuilt."""
    if not path:
        return new
    node = read_node(raw)
    children = [child.raw for child in node.children()]
    children[path[0]] = replace_at(children[path[0]], path[1:], new)
    return tlv(node.tag, *children)


KINDS = st.sampled_from(["2019 two-pass aes", "2012 one-pass tdes"])


def with_changed_envelope(which: str, change: Callable[[bytes], bytes]) -> bytes:
    """The token of kind ``which`` with its EnvelopedData changed and signed again by the KDH
    (in the 2012 layout the fields are wrapped in a SEQUENCE for the change, then unwrapped)."""
    pki, tokens = world()
    token, _ = tokens[which]
    fields = econtent(token).value
    whole = which.startswith("2019")
    changed = change(fields if whole else tlv(0x30, fields))
    return with_econtent(token, changed if whole else read_node(changed).value, pki.kdh_key)


@PROPERTY
@given(data=st.data(), which=KINDS)
def test_signed_tokens_with_a_mutated_envelope_are_refused(data: st.DataObject, which: str) -> None:
    """The KDH signs garbage: the envelope layers must refuse it on their own."""

    def change(envelope: bytes) -> bytes:
        path = data.draw(st.sampled_from(node_paths(envelope)[1:]))
        return replace_at(envelope, path, data.draw(der_trees()))

    same_key_or_refused(with_changed_envelope(which, change), world()[1][which][1])


@PROPERTY
@given(data=st.data(), which=KINDS)
def test_signed_tokens_with_random_ciphertext_are_refused(data: st.DataObject, which: str) -> None:
    """The KDH encrypts garbage under a sound envelope: padding and KeyBlock checks refuse it."""
    # The encrypted content: the last element of the EnvelopedData's EncryptedContentInfo,
    # or of its algorithm identifier in the 2012 layout.
    path = (2, 2) if which.startswith("2019") else (2, 1, 2)
    block = 16 if which.startswith("2019") else 8
    size = data.draw(st.integers(1, 12)) * block
    junk = data.draw(st.binary(min_size=size, max_size=size))

    def change(envelope: bytes) -> bytes:
        node = read_node(envelope)
        for index in path:
            node = node.children()[index]
        assert node.tag == 0x80
        return replace_at(envelope, path, tlv(0x80, junk))

    same_key_or_refused(with_changed_envelope(which, change), world()[1][which][1])


@PROPERTY
@given(data=st.data(), which=KINDS)
def test_signed_tokens_with_mutated_attributes_are_refused(data: st.DataObject, which: str) -> None:
    """The KDH signs odd attributes: the attribute checks must refuse them on their own."""
    pki, tokens = world()
    token, nonce = tokens[which]
    signed = read_node(token).children()[1].children()[0]
    signer_path = (1, 0, len(signed.children()) - 1, 0)
    attributes = signer_info(token).children()[3]
    path = data.draw(st.sampled_from(node_paths(attributes.raw)[1:]))
    changed = replace_at(token, (*signer_path, 3, *path), data.draw(der_trees()))
    assert signed_data(changed).children()[-1].children()[0].children()[3].tag == 0xA0
    same_key_or_refused(resign(changed, pki.kdh_key), nonce)


def test_the_property_tokens_open() -> None:
    """The unmutated tokens are good, so the refusals above come from the mutations."""
    for token, nonce in world()[1].values():
        received = open_as_krd(token, nonce)
        assert (received.key, received.header) == (SAMPLE_KEY, HEADER)
