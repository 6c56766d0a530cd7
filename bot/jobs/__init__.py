"""Queued and scheduled work on Redis (arq): outage notices now, billing
reminders next. Run by ``python -m bot.jobs`` (``make run`` starts one);
any number of workers, on any replica, share one queue.

The Rasa process only enqueues (:mod:`bot.jobs.queue`); the jobs
(:mod:`bot.jobs.worker`) are idempotent per (campaign, customer, phase), so a
worker killed mid-campaign and a restarted or second worker neither skip nor
repeat a customer.
"""
