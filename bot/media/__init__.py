"""Files customers and agents exchange: checked, kept in Redis, reached through signed links.

``files`` says what a file is (its bytes, not its declared type) and whether
it may pass; ``store`` keeps it (all replicas see it, it expires);
``links`` signs the short URL a browser or a widget opens it with. Sanic-free:
the channels, the desk and later the action server use it alike.
"""
from bot.media.files import MediaFile, inspect_file
from bot.media.links import MediaLinks
from bot.media.settings import MediaSettings, media_settings
from bot.media.store import MediaStore, StoredMedia

__all__ = ["MediaFile", "MediaLinks", "MediaSettings", "MediaStore", "StoredMedia",
           "inspect_file", "media_settings"]
