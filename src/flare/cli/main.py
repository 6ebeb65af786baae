"""The ``flare`` command: a click group with one subcommand per module in this package.

Importing this module must stay cheap: boto3, aiohttp and the engine are imported only inside
the commands that use them, so ``flare serve`` and ``flare --help`` start in a blink.
"""

from __future__ import annotations

import click

from flare import __version__
from flare.cli.cluster import cluster_command
from flare.cli.console import console_command
from flare.cli.deploy import deploy_command
from flare.cli.dev import dev_command
from flare.cli.doctor import doctor_command
from flare.cli.durable import durable_command
from flare.cli.invoke import invoke_command
from flare.cli.keys import keys_command
from flare.cli.logs import logs_command
from flare.cli.roles import roles_command
from flare.cli.schedule import schedule_command
from flare.cli.serve import serve_command
from flare.cli.sources import sources_command
from flare.cli.top import top_command
from flare.cli.trace import trace_command
from flare.cli.tune import tune_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="flare")
def main() -> None:
    """Flare: a self-hosted, AWS-Lambda-compatible function engine."""


main.add_command(serve_command)
main.add_command(deploy_command)
main.add_command(dev_command)
main.add_command(invoke_command)
main.add_command(logs_command)
main.add_command(doctor_command)
main.add_command(schedule_command)
main.add_command(sources_command)
main.add_command(keys_command)
main.add_command(roles_command)
main.add_command(durable_command)
main.add_command(trace_command)
main.add_command(console_command)
main.add_command(top_command)
main.add_command(tune_command)
main.add_command(cluster_command)


if __name__ == "__main__":
    main()
