"""minigrad's own exceptions: the errors a user can cause and fix, as opposed to bugs.

Each subclasses :class:`MinigradError` *and* the built-in exception PyTorch or NumPy would raise in its
place (``ValueError``, ``FileNotFoundError``, ...), so ``except ValueError`` keeps working. The command line
and the example scripts print any ``MinigradError`` as one line and exit with status 1 (a bug still shows
its traceback); ``--debug`` or ``MINIGRAD_DEBUG=1`` shows the traceback of these too.

    MinigradError
    ├── CheckpointError      a checkpoint that is missing, damaged, foreign, or does not fit the model
    ├── RunDirError          an --out folder that holds another run, or that another process is using
    ├── DivergenceError      training produced NaN or infinite numbers
    ├── SettingsError        a setting out of range (learning rate, betas, ...) or one that cannot change
    └── DataError            the data file is absent or not BloodMNIST (see ``minigrad.data.bloodmnist``)
"""


class MinigradError(Exception):
    """Base class of the errors a user can fix; the CLI prints them as one line."""


class CheckpointError(MinigradError, ValueError):
    """A checkpoint file that cannot be trusted or used: missing, damaged, foreign, or of another model."""


class RunDirError(MinigradError, RuntimeError):
    """An output folder that already holds a run, or that another live process holds the lock of."""


class DivergenceError(MinigradError, FloatingPointError):
    """The loss, the weights or the optimizer's state became NaN or infinite."""


class SettingsError(MinigradError, ValueError):
    """A setting outside its valid range, or (on resume) different from the run's recorded one."""


class DataError(MinigradError):
    """The data set cannot be read (its subclasses also subclass FileNotFoundError or ValueError)."""
