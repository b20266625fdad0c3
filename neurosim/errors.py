"""Exceptions raised for bad input.

Every user mistake (a malformed device card, NaN weights, a wrong shape, an
unknown name) raises :class:`NeurosimError` or a subclass, with a message that
names what was wrong and what is allowed. The command line turns these into a
single line on stderr and a non-zero exit status.
"""


class NeurosimError(ValueError):
    """Bad input to neurosim: the message says what is wrong and what is allowed."""


class CardError(NeurosimError):
    """A device card that cannot be read or does not describe a valid device."""
