"""helpforce: a Twelpforce-style crowd-staffed helpdesk.

Customers write to a brand on X, Discord, Telegram (or the embedded local platform); the
daemon offers each question to staff from the roster, exactly one claims it, every reply is
checked against the managers' guideline policies, and who claimed and answered what, and when,
is recorded.
"""

__version__ = "0.1.0"
