"""The desk's HTTP routes, one module per resource; each has ``register(bp, api)``."""
from channels.desk.routes import agents, auth, canned, console, conversations, departments, media, outreach

API = "/desk/api"
MODULES = (auth, agents, conversations, console, departments, canned, outreach, media)
