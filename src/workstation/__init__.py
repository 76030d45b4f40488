"""Key Custodian Workstation."""

import logging

# Library practice (Python logging HOWTO, "Configuring Logging for a Library"): the
# workstation's loggers write only where the program set up a handler (the log file, see
# bootstrap.setup_logging); before that, nothing reaches the console beside the message
# the user is shown.
logging.getLogger(__name__).addHandler(logging.NullHandler())
