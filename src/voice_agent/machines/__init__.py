"""Several machines behind one bot, on NATS (see ``docs/machines.md``).

One module per concern: ``protocol`` (subjects, versioned messages, JSON),
``codec`` (a turn's events as JSON), ``connection`` (NATS with this machine's
credentials), ``worker`` (``voice-agent worker``), and on the hub ``registry``
(machines online or offline), ``remote`` (a turn on another machine),
``diffs`` and ``rules`` (``/diff`` and ``/approvals`` of a session there),
``runner`` (where each session's turns run), ``asks`` (other machines'
permission requests) and ``hub`` (all of it put together).

Nothing here is imported unless ``NATS_URL`` is set: nats-py is the optional
``voice-agent[machines]`` extra.
"""
