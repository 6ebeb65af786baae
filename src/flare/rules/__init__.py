"""Keep-warm schedules: EventBridge-style rules that invoke a function on a rate or cron."""
