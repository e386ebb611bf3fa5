class TrainerError(Exception):
    """A failure the user can act on; its message becomes the `failed` event, verbatim."""


class Cancelled(Exception):
    """Raised at a safe point after SIGTERM/SIGINT asked the worker to stop."""
