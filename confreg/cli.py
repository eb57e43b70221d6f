"""flask commands: demo data and the mail queue."""
import click
from flask import Flask, current_app

from .extensions import db
from .timeutil import china_today


def register_commands(app: Flask) -> None:
    from .backup import backup_commands

    app.cli.add_command(backup_commands)

    @app.cli.group()
    def demo():
        """Demo data."""

    @demo.command("load")
    def demo_load():
        """Load the Xining meeting, the Kunming course and the 2026 call, open today."""
        from .demo import DEMO_PASSWORD, DEMO_STAFF, load_demo, load_demo_staff

        added = load_demo(china_today())
        load_demo_staff()
        db.session.commit()
        for event in added:
            deadline = "申报截止" if event.kind == "call" else "报名截止"
            click.echo(f"已加载：{event.title}（{event.starts_on}，{deadline} "
                       f"{event.registration_deadline}）")
        if not added:
            click.echo("演示活动已存在，未重复加载。")
        base_url = current_app.config["BASE_URL"].rstrip("/")
        click.echo(f"会务后台 {base_url}/admin/login 演示账号（密码均为 "
                   f"{DEMO_PASSWORD}）：" + "、".join(email for email, _, _ in DEMO_STAFF))

    @app.cli.group()
    def bank():
        """Bank statements."""

    @bank.command("sample-statement")
    @click.argument("path", type=click.Path(dir_okay=False, writable=True))
    def bank_sample_statement(path):
        """Write a statement (ICBC's CSV) paying the registrations that owe money, to try it."""
        from sqlalchemy import select

        from .bank.sample import sample_statement
        from .models import Event, Registration
        from .services.bank import open_items

        items = sorted((item for item in open_items() if item.outstanding > 0),
                       key=lambda item: item.registration_id)[:12]
        if not items:
            raise click.ClickException("没有待缴费的报名：先报名几家单位再生成示例流水。")
        events = {e.id: e for e in db.session.scalars(
            select(Event).where(Event.id.in_({item.event_id for item in items})))}
        codes = {r.id: r.code for r in db.session.scalars(
            select(Registration).where(Registration.id.in_([i.registration_id for i in items])))}
        first = events[items[0].event_id]
        data = sample_statement(
            first.bank_account, first.payee_name,
            [(codes[i.registration_id], i.unit_name, i.outstanding,
              events[i.event_id].payment_remark) for i in items], today=china_today())
        with open(path, "wb") as out:
            out.write(data)
        click.echo(f"已写入 {path}：{len(items)} 家报名的示例流水（工行 CSV 格式，GBK）。"
                   "在会务后台“银行流水”中上传。")

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
        """Send queued mail that is due now (the worker's sweep does this every minute)."""
        from .notifications import deliver_mail

        sent = deliver_mail()
        click.echo(f"sent {sent}")

    @app.cli.command("worker")
    @click.option("--workers", "-w", default=2, show_default=True, type=click.IntRange(1, 64),
                  help="Worker threads in this process.")
    @click.option("--no-periodic", is_flag=True,
                  help="Do not run the scheduler (every worker but one, in the scale-out set-up).")
    @click.option("--verbose", "-v", is_flag=True, help="Log every task run (huey at INFO).")
    def worker(workers, no_periodic, verbose):
        """Run the background worker: mail, periodic jobs and long jobs (huey's consumer)."""
        import logging

        from .worker import Heartbeat

        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Two periodic tasks a minute would be 2,880 lines a day: huey says only what failed.
        logging.getLogger("huey").setLevel(logging.INFO if verbose else logging.WARNING)
        queue = app.extensions["worker"]
        consumer = queue.consumer(workers=workers, periodic=not no_periodic)
        heartbeat = Heartbeat(app, threads=workers, periodic=not no_periodic)
        heartbeat.start()
        if not no_periodic:
            # Back after a crash or a deploy: send what is due and rerun dead jobs at once,
            # not at the next minute of the scheduler.
            queue.enqueue("sweep_mail")
            queue.enqueue("recover_stalled_jobs")
        click.echo(f"worker: {workers} thread(s), queue {queue.url.split('@')[-1]}"
                   f"{'' if no_periodic else ', scheduler on'}")
        try:
            consumer.run()  # until SIGTERM/SIGINT; huey finishes the running tasks first
        finally:
            heartbeat.stop()

    @app.cli.group()
    def uploads():
        """Uploaded files."""

    @uploads.command("prune")
    @click.option("--older-than-hours", default=24, show_default=True, type=click.IntRange(1))
    def uploads_prune(older_than_hours):
        """Delete uploads that no submission uses (forms never sent), e.g. daily from cron."""
        from datetime import timedelta

        from .services.uploads import prune_unattached

        rows, files = prune_unattached(timedelta(hours=older_than_hours))
        db.session.commit()
        click.echo(f"已清理未使用的上传：{rows} 条记录，{files} 个文件")

    @app.cli.group()
    def reminders():
        """Reminders to units (payment due, payment overdue)."""

    @reminders.command("send")
    @click.option("--event", "event_key", help="The event's key.")
    @click.option("--all-open-events", is_flag=True,
                  help="Every published event that has not ended.")
    @click.option("--kind", required=True,
                  type=click.Choice(["payment_due", "payment_overdue", "materials_due"]))
    def reminders_send(event_key, all_open_events, kind):
        """Send a reminder to every unit that needs it and has not had it today (for cron)."""
        from sqlalchemy import select

        from .models import Event
        from .notifications import deliver_mail
        from .services import ServiceError
        from .services.reminders import open_events, send_reminders

        if bool(event_key) == all_open_events:
            raise click.UsageError("请指定 --event <key> 或 --all-open-events 之一。")
        today = china_today()
        if all_open_events:
            events = open_events(today)
        else:
            event = db.session.scalar(select(Event).where(Event.key == event_key))
            if event is None:
                raise click.ClickException(f"没有 key 为 {event_key} 的活动。")
            events = [event]
        targets = [(event.id, event.key) for event in events]
        db.session.commit()
        failed = False
        for event_id, key in targets:
            try:
                batch = send_reminders(event_id, kind, today=today, actor="定时任务（命令行）")
            except ServiceError as error:
                db.session.rollback()
                click.echo(f"{key} {kind}: not sent: {error.message}")
                failed = failed or not all_open_events
                continue
            db.session.commit()
            deliver_mail(batch.mail_ids)
            click.echo(f"{key} {kind}: sent {len(batch.sent)}, skipped {len(batch.skipped)}")
        if failed:
            raise click.exceptions.Exit(1)
