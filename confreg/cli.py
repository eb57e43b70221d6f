"""flask commands: demo data and the mail queue."""
import click
from flask import Flask

from .extensions import db
from .timeutil import china_today


def register_commands(app: Flask) -> None:
    @app.cli.group()
    def demo():
        """Demo data."""

    @demo.command("load")
    def demo_load():
        """Load the Xining meeting, the Kunming course and the 2026 call, open today."""
        from .demo import load_demo

        added = load_demo(china_today())
        db.session.commit()
        for event in added:
            click.echo(f"已加载：{event.title}（{event.starts_on}，报名截止 {event.registration_deadline}）")
        if not added:
            click.echo("演示活动已存在，未重复加载。")

    @app.cli.group()
    def users():
        """Staff accounts."""

    @users.command("create")
    @click.option("--email", prompt="邮箱")
    @click.option("--name", prompt="姓名")
    @click.option("--role", type=click.Choice(["admin", "finance", "staff", "reviewer"]),
                  default="admin", show_default=True)
    @click.password_option("--password", prompt="密码（至少 10 位）")
    def users_create(email, name, role, password):
        """Create a staff account (the first administrator, say)."""
        from .services.users import create_user
        from .services import ServiceError

        try:
            user = create_user(email=email, name=name, role=role, password=password,
                               actor="命令行")
        except ServiceError as error:
            raise click.ClickException(error.message)
        db.session.commit()
        click.echo(f"已创建{user.role_label}账号：{user.email}")

    @app.cli.group()
    def mail():
        """The outgoing mail queue."""

    @mail.command("send")
    def mail_send():
        """Send queued mail that is due (run from cron every minute)."""
        from .notifications import deliver_mail

        sent = deliver_mail()
        click.echo(f"sent {sent}")
