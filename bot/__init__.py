"""Library code of the ISP assistant that knows nothing about Rasa's processes.

Both the Rasa server (through ``channels``) and the action server (through
``actions``) import from here; nothing here imports them back.
"""

__version__ = "0.1.0"
