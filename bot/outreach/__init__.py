"""The provider writes first on WhatsApp: the 24-hour customer window,
opt-out, approved templates, outage notices and their delivery statuses.

Shared by the Rasa process (webhook, desk API) and the job worker
(bot/jobs/); everything lives in Redis, so replicas and workers agree.
"""
