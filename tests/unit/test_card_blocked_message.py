"""A blocked card's message says what is true: the workstation cannot unblock it."""

from __future__ import annotations

from workstation.errors import CardBlocked


def test_blocked_card_message_names_the_puk_and_replacement() -> None:
    message = CardBlocked().user_message()
    assert message.startswith("The card is blocked after too many wrong PINs")
    assert "the workstation cannot unblock it" in message
    assert "PUK" in message and "card vendor's tool" in message
    assert "revokes the card and enrols a new one" in message
    assert "reset" not in message
    assert CardBlocked("Blocked on this card.").user_message() == "Blocked on this card."
