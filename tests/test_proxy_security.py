"""Hardened for a server behind a proxy: X-Forwarded-* believed only from as many proxies as
configured (none by default), a production configuration that refuses to start unsafe, and a
Content-Security-Policy that lets only the app's own files run — checked on the responses, in
the templates' source and in headless Chromium."""
import html
import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import config
from config import ProductionConfig, TestConfig
from confreg import create_app
from confreg.database import utcnow
from confreg.extensions import db
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.timeutil import china_today
from tests.conftest import (CHROMIUM, STAFF_PASSWORD, add_member, add_user, csrf_token_from,
                            field_label, make_event)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NGINX = "127.0.0.1"         # the proxy in front of the app, on the same machine
CLIENT = "203.0.113.9"      # someone on the internet
PROXY_OFF = dict(PROXY_FIX_X_FOR=0, PROXY_FIX_X_PROTO=0, PROXY_FIX_X_HOST=0)
ONE_NGINX = dict(PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, PROXY_FIX_X_HOST=0)


@pytest.fixture
def extra_app(app, database_url, tmp_path):
    """A factory of further apps on the session's (already migrated) database."""
    made = []
    # A production app (not TESTING) sets up the access log on the process-wide "confreg"
    # logger: put it back afterwards so the other tests stay quiet.
    logger = logging.getLogger("confreg")
    saved = (list(logger.handlers), logger.level, logger.propagate)

    def make(config_object=TestConfig, **overrides):
        settings = dict(SQLALCHEMY_DATABASE_URI=database_url,
                        WORKER_BROKER_URL=f"sqlite:///{tmp_path / f'queue-{len(made)}.db'}",
                        UPLOAD_DIR=str(tmp_path / "uploads"), **PROXY_OFF)
        settings.update(overrides)
        made.append(create_app(config_object, **settings))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def outbox_dir(tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "20270101-000000-000001-registration_confirmed.eml").write_bytes(
        "To: unit@example.cn\r\nSubject: test\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "\r\n私密链接 http://x/r/abc\r\n".encode())
    return folder


@pytest.fixture
def event_key(app_ctx):
    key = make_event().key
    db.session.close()  # hold no SQLite transaction while other apps read
    return key


def outbox_status(client, remote_addr: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.get("/outbox/", headers=headers,
                      environ_base={"REMOTE_ADDR": remote_addr}).status_code


# --- 1. no proxy configured: X-Forwarded-* is a client's word, not believed -----------------

def test_without_proxy_settings_a_forwarded_loopback_address_does_not_open_the_outbox(
        extra_app, outbox_dir):
    client = extra_app(MAIL_OUTBOX_DIR=str(outbox_dir)).test_client()

    assert outbox_status(client, "127.0.0.1") == 200  # the outbox is there, for this machine
    assert outbox_status(client, CLIENT) == 404
    assert outbox_status(client, CLIENT, forwarded_for="127.0.0.1") == 404


def test_without_proxy_settings_forwarded_https_is_not_believed(extra_app, event_key):
    client = extra_app().test_client()
    url = f"/events/{event_key}/print"

    forged = client.get(url, headers={"X-Forwarded-Proto": "https",
                                      "X-Forwarded-Host": "evil.example"},
                        environ_base={"REMOTE_ADDR": CLIENT})
    real_https = client.get(url, base_url="https://localhost")

    assert forged.status_code == 200
    assert "Strict-Transport-Security" not in forged.headers
    assert f"http://localhost/events/{event_key}" in forged.text
    assert "https://" not in forged.text and "evil.example" not in forged.text
    # The same page over https itself does get HSTS: its absence above is the forwarding.
    assert real_https.headers["Strict-Transport-Security"].startswith("max-age=")


# --- 2. behind one nginx: its last X-Forwarded-For entry and its X-Forwarded-Proto ---------

@pytest.mark.parametrize(("forwarded_for", "status"), [
    (CLIENT, 404),                        # a visitor from the internet, via nginx
    ("127.0.0.1", 200),                   # nginx passing on a request from this machine
    (f"127.0.0.1, {CLIENT}", 404),        # the visitor forged "127.0.0.1"; nginx appended
])
def test_behind_one_proxy_the_client_is_the_address_nginx_appended(extra_app, outbox_dir,
                                                                   forwarded_for, status):
    client = extra_app(MAIL_OUTBOX_DIR=str(outbox_dir), **ONE_NGINX).test_client()

    assert outbox_status(client, NGINX, forwarded_for=forwarded_for) == status


def test_behind_one_proxy_forwarded_https_is_believed_but_not_the_host(extra_app, event_key):
    client = extra_app(**ONE_NGINX).test_client()
    url = f"/events/{event_key}/print"
    via_nginx = {"REMOTE_ADDR": NGINX}

    https = client.get(url, headers={"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https",
                                     "X-Forwarded-Host": "evil.example"},
                       environ_base=via_nginx)
    plain = client.get(url, headers={"X-Forwarded-For": CLIENT}, environ_base=via_nginx)

    assert https.status_code == 200
    assert https.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert f"https://localhost/events/{event_key}" in https.text  # url_for(_external=True)
    assert "evil.example" not in https.text  # PROXY_FIX_X_HOST=0: Host is nginx's own
    assert "Strict-Transport-Security" not in plain.headers
    assert f"http://localhost/events/{event_key}" in plain.text


# --- 3. the production configuration ---------------------------------------------------------

class PinnedProduction(ProductionConfig):
    """ProductionConfig with nothing from this machine's environment (read at import)."""
    SECRET_KEY = None
    SQLALCHEMY_DATABASE_URI = None
    MAIL_OUTBOX_DIR = None


def test_production_is_what_confreg_config_selects(monkeypatch):
    monkeypatch.setenv("CONFREG_CONFIG", "production")
    assert config.selected_config() is ProductionConfig
    monkeypatch.delenv("CONFREG_CONFIG")
    assert config.selected_config() is config.Config
    monkeypatch.setenv("CONFREG_CONFIG", "prod")
    with pytest.raises(RuntimeError, match="CONFREG_CONFIG='prod' is not one of"):
        config.selected_config()


@pytest.mark.parametrize(("unset", "message"), [
    ({"SECRET_KEY": None}, "set SECRET_KEY in the environment"),
    ({"SECRET_KEY": ""}, "set SECRET_KEY in the environment"),
    ({"SQLALCHEMY_DATABASE_URI": None}, "set DATABASE_URL in the environment"),
    ({"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": None}, "set SECRET_KEY and DATABASE_URL"),
])
def test_production_refuses_to_start_without_its_secrets(extra_app, unset, message):
    with pytest.raises(RuntimeError, match=f"production configuration: {message}"):
        extra_app(PinnedProduction, **{"SECRET_KEY": "k" * 48, **unset})


def test_production_refuses_to_start_with_the_dev_outbox(extra_app, outbox_dir):
    with pytest.raises(RuntimeError, match="production configuration: MAIL_OUTBOX_DIR must "
                                           "not be set"):
        extra_app(PinnedProduction, SECRET_KEY="k" * 48, MAIL_OUTBOX_DIR=str(outbox_dir))


def test_production_has_no_outbox_and_sends_its_cookies_over_https_only(extra_app, app_ctx):
    add_user("admin", "admin@example.cn")
    db.session.close()
    production = extra_app(PinnedProduction, SECRET_KEY="k" * 48)
    client = production.test_client()

    assert "outbox" not in production.blueprints
    assert outbox_status(client, "127.0.0.1") == 404
    form = client.get("/admin/login", base_url="https://confreg.test")
    # Over https Flask-WTF also wants a same-site Referer, as a browser sends.
    signed_in = client.post("/admin/login", base_url="https://confreg.test",
                            headers={"Referer": "https://confreg.test/admin/login"},
                            data={"email": "admin@example.cn", "password": STAFF_PASSWORD,
                                  "csrf_token": csrf_token_from(form.text)})

    assert signed_in.status_code == 302, signed_in.status_code
    set_cookie = signed_in.headers.get_all("Set-Cookie")
    session_cookie = [c for c in set_cookie if c.startswith("session=")]
    assert session_cookie, set_cookie
    attributes = {part.strip().split("=")[0].lower() for part in session_cookie[0].split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes, session_cookie
    assert "SameSite=Lax" in session_cookie[0]
    assert client.get_cookie("session", domain="confreg.test").secure
    events = client.get("/admin/events/", base_url="https://confreg.test")
    assert events.status_code == 200  # the session works over https
    assert events.headers["Strict-Transport-Security"].startswith("max-age=")


# --- 4. the Content-Security-Policy: on every page, and nothing inline in the templates -----

def policy_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name.lower()] = values
    return directives


def assert_strict_policy(response, url: str) -> None:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{url} ({response.status_code}) has no Content-Security-Policy"
    directives = policy_directives(header)
    assert directives.get("script-src") == ["'self'"], (url, header)
    assert directives.get("style-src") == ["'self'"], (url, header)
    assert directives.get("object-src") == ["'none'"], (url, header)
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, (url, header)
    assert not ({"script-src-attr", "script-src-elem", "style-src-attr",
                 "style-src-elem"} & directives.keys()), (url, header)


HREF_RE = re.compile(r'href="(/[^"#]*)"')
DOWNLOADS = (".pdf", ".xlsx", ".docx", ".zip", ".csv", "/file")
MAX_PAGES = 250


def crawl(client, seeds: list[str]) -> dict[str, int]:
    """GET every page reachable by same-site links from the seeds; check each HTML page's
    policy; return url -> status of the HTML pages."""
    seen, queue, pages = set(seeds), list(seeds), {}
    while queue and len(pages) < MAX_PAGES:
        url = queue.pop(0)
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        assert_strict_policy(response, url)
        pages[url] = response.status_code
        for link in HREF_RE.findall(response.text):
            link = html.unescape(link)
            path = urlsplit(link).path
            if link in seen or path.startswith("/static/") or path.endswith(DOWNLOADS):
                continue
            seen.add(link)
            queue.append(link)
    return pages


def rule_urls(app, values: dict[str, object]) -> list[str]:
    """Every GET route whose arguments are all among `values`, filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" \
                or rule.rule.endswith(DOWNLOADS):
            continue
        if rule.arguments <= values.keys():
            urls.append(rule.build({name: values[name] for name in rule.arguments})[1])
    return urls


def test_every_html_page_has_the_strict_content_security_policy(app, staff_client):
    from tests.test_cases import make_call

    # Its own app context, ended before the requests: a request inside a pushed context
    # would share its g, and with it the signed-in user, across test clients.
    with app.app_context():
        event = make_event()
        call = make_call()
        add_member("西宁市城东区东关大街街道办事处")
        registration, token = register_unit(
            event.id, UnitDetails(unit_name="西宁市城东区东关大街街道办事处", tier_claim="other",
                                  province="青海省", city="西宁市", contact_name="马晓明",
                                  contact_mobile="13912345678", contact_email="unit@example.cn"),
            [AttendeeDetails(name="王芳", gender="F", title="主任", mobile="13912345001",
                             accommodation="shared", arrival_on=event.starts_on,
                             departure_on=event.ends_on)],
            today=china_today(), now=utcnow())
        db.session.commit()
        values = {"event_id": event.id, "key": event.key, "registration_id": registration.id,
                  "token": token}
        call_pages = [f"/admin/events/{call.id}", f"/admin/events/{call.id}/materials/",
                      f"/events/{call.key}", f"/events/{call.key}/submit"]
        event_id, event_key, registration_id = event.id, event.key, registration.id
        db.session.close()
    admin = staff_client("admin")
    public = app.test_client()

    pages = crawl(admin, rule_urls(app, values) + call_pages)
    pages.update(crawl(public, ["/", f"/r/{token}", f"/r/{token}/edit", "/no-such-page"]))
    reviewer = staff_client("reviewer")
    forbidden = reviewer.get("/admin/users/")
    bad_csrf = app.test_client().post("/admin/login", data={"email": "x@example.cn"})

    assert forbidden.status_code == 403 and bad_csrf.status_code == 400
    assert_strict_policy(forbidden, "the 403 page")
    assert_strict_policy(bad_csrf, "the CSRF error page")
    ok = {url for url, status in pages.items() if status == 200}
    assert len(ok) >= 40, sorted(pages.items())  # the crawl really went through the site
    for expected in ("/", f"/events/{event_key}", f"/events/{event_key}/register",
                     f"/events/{event_key}/print", f"/r/{token}", "/admin/events/",
                     f"/admin/events/{event_id}", f"/admin/registrations/{registration_id}"):
        assert expected in ok, expected
    assert pages["/no-such-page"] == 404


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TAG = re.compile(r"<([a-zA-Z][\w:-]*)([^<>]*)>")
_INLINE_ATTRIBUTE = re.compile(r"(?:^|\s)(style|on[a-z]+)\s*=", re.I)
_SRC = re.compile(r"(?:^|\s)src\s*=", re.I)
_JAVASCRIPT_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""",
                             re.I)


def inline_code(source: str) -> list[str]:
    """What in a template's markup would be inline script or style (blocked by the policy).
    Jinja tags are blanked first, so a '>' in `{% if a > b %}` cannot end a tag early, while
    markup between them (`{% if x %}style="…"{% endif %}`) is still seen."""
    markup = _JINJA.sub(" ", source)
    found = []
    for tag in _TAG.finditer(markup):
        name, attributes = tag.group(1).lower(), tag.group(2)
        found += [f"{attribute}= on <{name}>"
                  for attribute in _INLINE_ATTRIBUTE.findall(attributes)]
        if name == "style":
            found.append("<style>")
        if name == "script" and not _SRC.search(attributes):
            found.append("<script> without src")
    if _JAVASCRIPT_URL.search(markup):
        found.append("javascript: URL")
    return found


@pytest.mark.parametrize("bad", [
    '<p style="color:red">',
    "<p class=x STYLE = 'color:red'>",
    '<div {% if a > b %}style="{{ c }}"{% endif %}>',
    "<style>\np { color: red }\n</style>",
    '<script>\nwindow.print();\n</script>',
    '<script type="module" defer>x()</script>',
    '<button type="button"\n        onclick="window.print()">',
    "<body onload=go()>",
    '<a href="javascript:void(0)">',
])
def test_the_template_scan_finds_inline_code(bad):
    assert inline_code(bad), bad


@pytest.mark.parametrize("good", [
    '<script src="{{ url_for(\'static\', filename=\'js/x.js\') }}" defer></script>',
    '<link rel="stylesheet" href="/static/css/site.css">',
    '<p data-style="x" class="one">person = one; online = 1</p>',
    "{% set one = 1 %}{{ field(form.x, onchange_hint=True) }}",
    "<p>if a < b and c > d</p>",
])
def test_the_template_scan_passes_clean_markup(good):
    assert inline_code(good) == []


def test_no_template_has_inline_script_or_style():
    files = sorted(path for path in TEMPLATES.rglob("*") if path.is_file())
    assert len(files) > 50

    found = {str(path.relative_to(TEMPLATES)): inline_code(path.read_text(encoding="utf-8"))
             for path in files}

    assert {name: what for name, what in found.items() if what} == {}


# --- 5. headless Chromium: the pages run under the policy with nothing refused -------------

chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                              reason=f"Chromium is not installed at {CHROMIUM}")
DESKTOP = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN",
               timezone_id="Asia/Shanghai")
REPORT_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
  window.__reportCsp(e.violatedDirective + ' ' + e.blockedURI);
});
"""


class Watched:
    """A browser context that records every policy violation and console complaint."""

    def __init__(self, browser, **options):
        self.violations: list[str] = []
        self.console: list[str] = []
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(15_000)
        self.context.expose_binding(
            "__reportCsp", lambda source, text: self.violations.append(
                f"{source['frame'].url}: {text}"))
        self.context.add_init_script(REPORT_VIOLATIONS)

    def new_page(self):
        page = self.context.new_page()
        page.on("console", lambda message: self._note(page, message))
        page.on("pageerror", lambda error: self.console.append(f"{page.url}: {error}"))
        return page

    def _note(self, page, message) -> None:
        # The browser asks for /favicon.ico by itself; the app has none and no page links one.
        if message.type in ("error", "warning") and \
                not message.location.get("url", "").endswith("/favicon.ico"):
            self.console.append(f"{page.url}: {message.type}: {message.text}")

    def settle(self, page) -> list[str]:
        """Let the page finish loading; return what its own window.__csp holds."""
        page.wait_for_load_state("load")
        page.evaluate("() => new Promise(done => setTimeout(done, 50))")
        return page.evaluate("() => window.__csp")

    def assert_clean(self):
        assert self.violations == [], self.violations
        assert self.console == [], self.console


@chromium
def test_the_watch_sees_inline_script_and_style_being_refused(browser, live_server):
    watched = Watched(browser, **DESKTOP)
    page = watched.new_page()
    page.goto(live_server.url + "/privacy")
    page.evaluate("""() => {
        document.body.setAttribute('style', 'background: red');
        const script = document.createElement('script');
        script.textContent = 'window.ran = true';
        document.body.appendChild(script);
    }""")

    in_page = watched.settle(page)

    assert page.evaluate("() => window.ran") is None  # the inline script did not run
    assert any(v.startswith("style-src") for v in in_page), in_page
    assert any(v.startswith("script-src") for v in in_page), in_page
    assert len(watched.violations) == len(in_page)
    assert any("Content Security Policy" in line for line in watched.console), watched.console
    watched.context.close()


@chromium
def test_public_pages_run_under_the_policy_with_nothing_refused(browser, app_ctx,
                                                                live_server):
    from playwright.sync_api import expect

    from tests.test_browser_flow import PHONE, fill_attendee
    from tests.test_cases import make_call

    event, call = make_event(), make_call()
    key, title, call_key = event.key, event.title, call.key
    db.session.rollback()  # release SQLite's write lock before the browser's requests
    watched = Watched(browser, **PHONE)
    page = watched.new_page()

    page.goto(live_server.url + "/")
    watched.settle(page)
    page.get_by_role("link", name=title).tap()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    watched.settle(page)
    page.get_by_role("link", name="在线报名").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("在线报名")
    watched.settle(page)
    assert page.evaluate("() => window.innerWidth") == 375

    page.get_by_label(field_label("单位名称")).fill("西宁市城东区东关大街街道办事处")
    page.get_by_label(field_label("其他单位、相关社会机构或个人")).check()
    page.get_by_label(field_label("省份")).select_option("青海省")
    page.get_by_label(field_label("城市")).fill("西宁市")
    page.get_by_label(field_label("联系人")).fill("马晓明")
    page.get_by_label(field_label("联系人手机")).fill("13912345678")
    page.get_by_label(field_label("联系人邮箱")).fill("contact@example.cn")
    fill_attendee(page, 0, name="张伟", gender="男", title="主任", mobile="13912345001")
    page.get_by_role("button", name="＋ 再添加一位参会人员").tap()  # the form's dynamic part
    expect(page.locator("#attendees > legend")).to_have_text("参会人员（2 人）")
    expect(page.locator("#attendee-0").get_by_label(field_label("姓名"))).to_have_value("张伟")
    watched.settle(page)
    fill_attendee(page, 1, name="王芳", gender="女", title="副主任", mobile="13912345002")
    page.get_by_role("checkbox", name=re.compile("我已阅读并同意")).check()
    page.get_by_role("button", name="提交报名").tap()
    expect(page.get_by_role("heading", name="报名成功")).to_be_visible()
    watched.settle(page)
    private_link = page.locator("#private-link").inner_text().strip()

    mine = watched.new_page()  # the private page, opened afresh as from the e-mail
    mine.goto(private_link)
    expect(mine.get_by_role("heading", level=1)).to_contain_text("我的报名")
    watched.settle(mine)

    printable = watched.new_page()
    printable.goto(f"{live_server.url}/events/{key}/print")
    expect(printable.get_by_role("button", name="打印")).to_be_visible()  # print-button.js ran
    watched.settle(printable)

    case_form = watched.new_page()
    case_form.goto(f"{live_server.url}/events/{call_key}/submit")
    case_form.locator("#abstract").fill("社区" * 30)
    expect(case_form.locator("#abstract-count strong")).to_have_text("60")  # abstract-count.js
    watched.settle(case_form)

    watched.assert_clean()
    watched.context.close()


@chromium
def test_staff_pages_run_under_the_policy_with_nothing_refused(browser, app_ctx, live_server):
    from playwright.sync_api import expect

    event = make_event()
    register_unit(
        event.id, UnitDetails(unit_name="西宁市城东区东关大街街道办事处", tier_claim="other",
                              province="青海省", city="西宁市", contact_name="马晓明",
                              contact_mobile="13912345678", contact_email="unit@example.cn"),
        [AttendeeDetails(name="王芳", gender="F", title="主任", mobile="13912345001",
                         accommodation="shared", arrival_on=event.starts_on,
                         departure_on=event.ends_on)],
        today=china_today(), now=utcnow())
    db.session.commit()
    event_id = event.id
    add_user("admin", "admin@example.cn")
    db.session.close()
    watched = Watched(browser, **DESKTOP)
    page = watched.new_page()

    page.goto(live_server.url + "/admin/login")
    page.get_by_label(field_label("邮箱")).fill("admin@example.cn")
    page.get_by_label(field_label("密码")).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="活动")).to_be_visible()
    watched.settle(page)
    for path, shows in ((f"/admin/events/{event_id}", "svg.chart"),  # the dashboard's charts
                        (f"/admin/events/{event_id}/registrations", "table"),
                        (f"/admin/events/{event_id}/finance", "table"),
                        (f"/admin/events/{event_id}/edit", "form")):
        page.goto(live_server.url + path)
        expect(page.locator(shows).first).to_be_visible()
        watched.settle(page)

    watched.assert_clean()
    watched.context.close()
