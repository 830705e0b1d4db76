"""Forum topics as sessions: the manager's bindings, kept in the store across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.sessions import SessionManager, SessionStorage
from voice_agent.sessions.topics import ForumTopics, topic_session_name

FORUM = -100777


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


def _manager(store_path: Path) -> SessionManager:
    return SessionManager(default_cwd="/code", storage=SessionStorage(store_path))


@pytest.mark.parametrize(
    ("title", "taken", "expected"),
    [
        ("API work", set(), "api-work"),
        ("  Déploiement / prod!  ", set(), "déploiement-prod"),
        ("🚀", set(), "topic-12"),
        (None, set(), "topic-12"),
        ("main", {"main"}, "main-12"),
        ("x" * 40, set(), "x" * 32),
        ("x" * 40, {"x" * 32}, "x" * 29 + "-12"),
        ("main", {"main", "main-12"}, "topic-12-2"),
    ],
)
def test_topic_session_name(title: str | None, taken: set[str], expected: str) -> None:
    assert topic_session_name(title, 12, taken) == expected


def test_each_topic_has_its_own_session_and_general_keeps_the_active_one(
    store_path: Path,
) -> None:
    manager = _manager(store_path)
    api = manager.topic_session(FORUM, 5, "API work", "/code/api")
    docs = manager.topic_session(FORUM, 9, "Docs")
    assert (api.name, api.cwd) == ("api-work", "/code/api")
    assert (docs.name, docs.cwd) == ("docs", "/code")
    assert manager.topic_session(FORUM, 5, "renamed title") is api
    assert manager.get_active_session_name(FORUM) == "main"
    assert manager.get_or_create(FORUM).name == "main"
    assert manager.topic_of(api) == 5
    assert manager.topic_of(manager.get_or_create(FORUM)) is None


def test_bindings_survive_a_restart_and_follow_renames(store_path: Path) -> None:
    manager = _manager(store_path)
    manager.topic_session(FORUM, 5, "API work")
    manager.topic_session(FORUM, 9, "Docs")
    assert manager.rename_session(FORUM, "api-work", "api")
    manager.set_cwd(FORUM, "/code/api", name="api")
    again = _manager(store_path)
    assert again.topics == {FORUM: {5: "api", 9: "docs"}}
    assert again.topic_session(FORUM, 5).cwd == "/code/api"
    assert again.get_active_session_name(FORUM) == "main"


def test_closing_a_topics_session_unbinds_it_everywhere(store_path: Path) -> None:
    manager = _manager(store_path)
    manager.topic_session(FORUM, 5, "API work")
    assert manager.close_session(FORUM, "api-work")
    assert manager.topics[FORUM] == {}
    assert _manager(store_path).topics == {}
    fresh = manager.topic_session(FORUM, 5, "API work")
    assert fresh.name == "api-work"
    assert fresh.message_count == 0


def test_a_topic_can_switch_to_another_session_or_start_a_new_one(store_path: Path) -> None:
    manager = _manager(store_path)
    manager.get_or_create(FORUM)
    manager.topic_session(FORUM, 5, "API work")
    assert manager.bind_topic(FORUM, 5, "nope") is None
    assert manager.bind_topic(FORUM, 5, "main") is manager.get(FORUM, "main")
    assert _manager(store_path).topics == {FORUM: {5: "main"}}
    new = manager.new_topic_session(FORUM, 5, "spike", "/tmp")
    assert manager.topics[FORUM][5] == "spike"
    assert new.cwd == "/tmp"
    assert manager.get_active_session_name(FORUM) == "main"
    assert {s.name for s in manager.list_sessions(FORUM)} == {"main", "api-work", "spike"}


def test_a_session_named_after_its_topic_follows_the_topics_new_title(store_path: Path) -> None:
    manager = _manager(store_path)
    manager.topic_session(FORUM, 5, "API work")
    assert manager.retitle_topic(FORUM, 5, "Backend API") == "backend-api"
    assert manager.topics[FORUM][5] == "backend-api"
    again = _manager(store_path)  # the title is stored: the next rename still follows
    assert again.retitle_topic(FORUM, 5, "Backend") == "backend"
    assert again.rename_session(FORUM, "backend", "mine")
    assert again.retitle_topic(FORUM, 5, "Elsewhere") is None  # a name you chose stays
    assert again.topics[FORUM][5] == "mine"


def test_untitled_or_shared_topic_sessions(store_path: Path) -> None:
    manager = _manager(store_path)
    manager.topic_session(FORUM, 7)  # the title was not seen: topic-7
    assert manager.retitle_topic(FORUM, 7, "Docs") == "docs"
    manager.bind_topic(FORUM, 8, "docs")  # two topics share it now
    assert manager.retitle_topic(FORUM, 7, "Guides") is None
    assert manager.retitle_topic(FORUM, 99, "Nothing bound") is None


def test_topics_are_an_object_the_manager_holds(store_path: Path) -> None:
    """``manager.topics`` is a ForumTopics, not a mixin of the manager."""
    manager = _manager(store_path)
    assert isinstance(manager.topics, ForumTopics)
    assert ForumTopics not in type(manager).__mro__
    assert not [c.__name__ for c in type(manager).__mro__ if c.__name__.endswith("Mixin")]
    api = manager.topic_session(FORUM, 5, "API")
    assert manager.topics.session_name(FORUM, 5) == api.name == "api"
    assert manager.topics.session_name(FORUM, 6) is None
    assert dict(manager.topics) == {FORUM: {5: "api"}}
    assert manager.topic_titles is manager.topics.titles
