"""What may run without asking, and under which rule.

This package owns the first wall (the checker: the strict Bash parser, the program
tables, path confinement and secret names, the git rules) and the second (the
bubblewrap jail), the derivation and matching of "Always" rules, and the one entry
the sessions call: :func:`voice_agent.policy.decide.decide`.

It may import the standard library and its parsing dependencies only: nothing of
``voice_agent.sessions``, ``store``, ``agent`` or the front ends.
"""
