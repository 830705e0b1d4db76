"""Speech-to-text backends, registered like plugins.

The built-in backends register themselves exactly like a third-party one would::

    from voice_agent.speech import registry

    registry.register("mine", MyTranscriber)  # a callable taking SpeechSettings
    stt = registry.create(SpeechSettings(backend="mine"))
"""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.speech.base import SpeechError, SpeechSettings, SpeechToText

Factory = Callable[[SpeechSettings], SpeechToText]

_factories: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make a backend available under a name (a later registration replaces an earlier one).

    Args:
        name: The value of ``SpeechSettings.backend`` that selects it.
        factory: Builds the backend from the settings.
    """
    _factories[name] = factory


def names() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(_factories)


def create(settings: SpeechSettings) -> SpeechToText:
    """Build the backend the settings name.

    Args:
        settings: The speech settings; ``settings.backend`` picks the backend.

    Returns:
        A ready-to-use backend (a local model is loaded on first use).

    Raises:
        SpeechError: No backend of that name is registered, or it could not be built.
    """
    factory = _factories.get(settings.backend)
    if factory is None:
        known = ", ".join(names()) or "none"
        raise SpeechError(f"Unknown speech backend {settings.backend!r} (known: {known}).")
    return factory(settings)
