"""Decisions in words: a voice note or a text saying "yes", "no", "always", "approve two".

Which request such a decision decides is :func:`voice_agent.voice_commands.choose`,
fed with what the person could see: the prompts waiting in that place (chat and
forum topic) when the message was sent, and the prompt the message replies to.
A reply decides that prompt's request or nothing; without a reply a decision
needs exactly one request waiting there. Only approvers decide
(:mod:`voice_agent.telegram.roles`); every answer says what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Message

from voice_agent.sessions.decisions import NOT_PENDING, Outcome
from voice_agent.telegram.approval_desk import Seen
from voice_agent.telegram.roles import DECIDE, refusal
from voice_agent.telegram.services import Services, Where
from voice_agent.voice_commands import (
    REJECT,
    AskWhich,
    Decide,
    Mismatch,
    NoSuchRequest,
    NotAPrompt,
    NotPending,
    Shown,
    Target,
    choose,
    parse_decision,
)

QUESTION_BY_BUTTONS = "Claude's questions are answered with their buttons."
NOT_SURE = (
    "I'm not sure I heard that right, so nothing was decided. "
    "Tap the request's buttons, or say it again."
)

Say = Callable[[str], Awaitable[object]]
"""Shows the outcome to the person (as a reply, or after the transcript's echo)."""


def seen_now(svc: Services, where: Where, message: Message) -> list[Seen]:
    """The prompts waiting where ``message`` was sent, that were on screen when it was sent.

    Take this as soon as the message arrives: a prompt that appears while a voice
    note is being transcribed was never seen by whoever spoke.

    Args:
        svc: The shared state.
        where: The chat and topic of the message.
        message: The voice note or text.
    """
    return svc.desk.seen_in(where.chat_id, where.thread_id, message.date)


def _replied(svc: Services, where: Where, message: Message) -> Seen | NotAPrompt | None:
    """The prompt ``message`` replies to; NotAPrompt for another message; None for no reply."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None  # a message in a topic "replies" to the topic's first message
    if where.thread_id is not None and replied.message_id == where.thread_id:
        return None
    seen = svc.desk.prompt_of(where.chat_id, replied.message_id)
    return NotAPrompt() if seen is None else seen


def _outcome(target: Target, outcome: Outcome) -> str:
    """What to tell the person about ``target``, decided with ``outcome``."""
    match target:
        case Decide(number=number):
            if outcome.done:
                return f"{outcome.text} #{number}"
            return f"#{number} is no longer pending; nothing was decided."
        case NotPending(number=number):
            which = f"#{number}" if number is not None else "That request"
            return f"{which} is no longer pending; nothing was decided."
        case AskWhich(numbers=numbers):
            listed = ", ".join(f"#{n}" for n in numbers)
            return (
                f"Several requests are waiting here ({listed}). Which one? "
                "Reply to its prompt, or say “approve one”, “reject two”…"
            )
        case NoSuchRequest(number=number, numbers=numbers):
            listed = ", ".join(f"#{n}" for n in numbers) or "none"
            return f"No request #{number} is waiting here (waiting: {listed}); nothing was decided."
        case Mismatch(replied=replied, said=said):
            return f"You replied to #{replied} but said #{said}; nothing was decided."
    return (
        "That message is not a waiting approval prompt; nothing was decided. "
        "Reply to the prompt itself, or say its number."
    )


async def decide_in_words(
    svc: Services,
    message: Message,
    where: Where,
    text: str,
    seen: list[Seen],
    *,
    via: str,
    who: str,
    say: Say,
    sure: bool = True,
) -> bool:
    """Decide a request if ``text`` is a decision meant for one; True if it was handled.

    Text that is no decision, or a decision with nothing waiting here and no reply
    to a prompt, is left alone (it is a prompt for Claude).

    Args:
        svc: The shared state.
        message: The voice note or text.
        where: Its chat, topic and sender.
        text: What was said (the transcript) or typed.
        seen: :func:`seen_now`, taken when the message arrived.
        via: ``voice`` or ``text``, for the log.
        who: The sender's name, for the edited prompt.
        say: Shows the outcome.
        sure: False when the words may be misheard (a transcript of low
            confidence): then nothing is approved, and the person is asked to
            use the buttons or say it again (a rejection still decides: it runs
            nothing).
    """
    decision = parse_decision(text)
    if decision is None:
        return False
    reply = _replied(svc, where, message)
    if isinstance(reply, Seen) and reply.question:  # answered with its buttons only
        await say(f"{QUESTION_BY_BUTTONS} Nothing was decided.")
        return True
    replied = svc.desk.shown(reply, where.chat_id) if isinstance(reply, Seen) else reply
    if not seen and not isinstance(replied, Shown):
        return False
    refused = refusal(svc, where, DECIDE, f"decision by {via}")
    if refused is not None:
        await say(refused)
        return True
    if not sure and decision.action != REJECT:  # a misheard "no" runs nothing
        await say(NOT_SURE)
        return True
    shown = [svc.desk.shown(s, where.chat_id) for s in seen]
    target = choose(decision, shown, replied)
    outcome = (
        svc.desk.settle(target.key, where.chat_id, decision.decided(), where.user_id, who)
        if isinstance(target, Decide)
        else NOT_PENDING
    )
    await say(_outcome(target, outcome))
    return True
