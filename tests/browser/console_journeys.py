"""The web console's journeys in a real browser: Playwright (from PyPI) driving Debian's
Chromium against a running `egret up`.

Run by `tests/tests/console.rs`, which starts the instance and passes, in the environment:
  EGRET_CONSOLE_URL        the instance's address, http://127.0.0.1:PORT
  EGRET_ADMIN_PASSWORD     the first admin's one-time password
  EGRET_OTHER_USERNAME     a staff account of another district
  EGRET_OTHER_PASSWORD     its one-time password
  EGRET_SCREENSHOTS        where a failing journey leaves its screenshots
  EGRET_CHROMIUM           the browser (default /usr/bin/chromium)

Each journey is one function; the first failure stops the run with its screenshots saved.
Pages are checked with axe-core (bundled by axe-playwright-python): no serious or critical
violation.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import sys
import time
import traceback
import zipfile

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

BASE = os.environ["EGRET_CONSOLE_URL"].rstrip("/")
SCREENSHOTS = pathlib.Path(os.environ.get("EGRET_SCREENSHOTS", "console-screenshots"))
CHROMIUM = os.environ.get("EGRET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ADMIN_PASSWORD = "鹭岛-admin-2026"
OTHER_PASSWORD = "湖里-staff-2026"
VOLUNTEER_NAME = "林美华"
VOLUNTEER_ID = "11010519491231002X"
TEAM_NAME = "思明区妇联巾帼志愿服务队"
LEADER_PASSWORD = "思明-leader-2026"
VOLUNTEER_PASSWORD = "美华-own-2026"
ACTIVITY_NAME = "曾厝垵社区敬老探访"

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# What one journey leaves for the next.
shared: dict[str, str] = {}


class Journey:
    """One journey's pages, screenshotted when it fails."""

    def __init__(self, browser: Browser, name: str, viewport: dict) -> None:
        self.name = name
        self.context: BrowserContext = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda message: self.console_errors.append(message.text)
            if message.type == "error"
            else None,
        )

    def screenshot(self, label: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"  screenshot: {path}")

    def close(self) -> None:
        # Script the Content-Security-Policy refused would show as console errors.
        refused = [text for text in self.console_errors if "Content Security Policy" in text]
        assert not refused, f"the page broke its own Content-Security-Policy: {refused}"
        self.context.close()


def accessible(page: Page, what: str) -> None:
    """No serious or critical axe-core violation on the page as it stands."""
    results = Axe().run(page)
    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert not serious, f"accessibility of {what}: " + "; ".join(serious)


def fits(page: Page, width: int, what: str) -> None:
    """The page does not scroll sideways at `width` (wide tables scroll in their own box)."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{what} is {scroll_width}px wide on a {width}px screen"


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto(f"{BASE}/signin")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()


def first_sign_in(page: Page, username: str, one_time: str, new_password: str) -> None:
    """Signs in with a one-time password, which sends her to set her own first."""
    sign_in(page, username, one_time)
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("请先设置新密码")
    page.get_by_label("当前密码（或一次性密码）").fill(one_time)
    page.get_by_label("新密码（至少 10 个字符）").fill(new_password)
    page.get_by_label("再次输入新密码").fill(new_password)
    page.get_by_role("button", name="修改并登录").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("^(首页|我的)"))).to_be_visible()


def signed_out_reveals_nothing(browser: Browser) -> None:
    journey = Journey(browser, "signed-out", DESKTOP)
    try:
        page = journey.page
        for path in ["/", "/volunteers", "/org", "/volunteers/new"]:
            page.goto(f"{BASE}{path}")
            expect(page).to_have_url(f"{BASE}/signin")
            expect(page.get_by_role("heading", name="登录")).to_be_visible()
        response = page.goto(f"{BASE}/signin")
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"], headers
        assert "unsafe-inline" not in headers["content-security-policy"], headers
        assert headers["x-frame-options"] == "DENY", headers
        assert headers["cache-control"] == "no-store", headers
        assert page.evaluate("document.cookie") == "", "cookies must be HttpOnly"
        for cookie in journey.context.cookies():
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        # No inline script anywhere: every script names its source.
        inline = page.evaluate("[...document.scripts].filter(s => !s.src).length")
        assert inline == 0, f"{inline} inline scripts"
        accessible(page, "the sign-in page")
        # A wrong password answers in Chinese, and says nothing of which part was wrong.
        sign_in(page, "admin", "not-the-password")
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        # A form posted from another site is refused.
        status = page.evaluate(
            """async (base) => (await fetch(base + '/signin', {method: 'POST',
                 headers: {'content-type': 'application/x-www-form-urlencoded'},
                 body: 'username=admin&password=x&csrf=forged'})).status""",
            BASE,
        )
        assert status == 403, f"a forged sign-in form answered {status}"
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def admin_first_sign_in(browser: Browser) -> None:
    journey = Journey(browser, "admin-first-sign-in", DESKTOP)
    try:
        page = journey.page
        one_time = os.environ["EGRET_ADMIN_PASSWORD"]
        # Keyboard only: the username has the focus, then the password, then Enter.
        page.goto(f"{BASE}/signin")
        assert page.evaluate("document.activeElement.id") == "username"
        page.keyboard.type("admin")
        page.keyboard.press("Tab")
        page.keyboard.type(one_time)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
        accessible(page, "the password page")
        # A mismatch is named beside its field, in Chinese.
        page.get_by_label("当前密码（或一次性密码）").fill(one_time)
        page.get_by_label("新密码（至少 10 个字符）").fill(ADMIN_PASSWORD)
        page.get_by_label("再次输入新密码").fill(ADMIN_PASSWORD + "x")
        page.get_by_role("button", name="修改并登录").click()
        expect(page.locator("#confirm_password-error")).to_have_text("两次输入的新密码不一致。")
        # Too short a password: the gateway's own rule, shown beside the field.
        page.get_by_label("当前密码（或一次性密码）").fill(one_time)
        page.get_by_label("新密码（至少 10 个字符）").evaluate("e => e.removeAttribute('minlength')")
        page.get_by_label("再次输入新密码").evaluate("e => e.removeAttribute('minlength')")
        page.get_by_label("新密码（至少 10 个字符）").fill("short")
        page.get_by_label("再次输入新密码").fill("short")
        page.get_by_role("button", name="修改并登录").click()
        expect(page.locator("#new_password-error")).to_be_visible()
        journey.screenshot("password-error")
        first_sign_in_rest(page, one_time)
        expect(page.get_by_role("heading", name="目标进度")).to_be_visible()
        expect(page.get_by_text("0 / 800")).to_be_visible()
        # The first Tab reaches the skip link, which leads past the menu to the page.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "跳到正文"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        accessible(page, "the home page")
        journey.screenshot("home")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def first_sign_in_rest(page: Page, one_time: str) -> None:
    page.get_by_label("当前密码（或一次性密码）").fill(one_time)
    page.get_by_label("新密码（至少 10 个字符）").fill(ADMIN_PASSWORD)
    page.get_by_label("再次输入新密码").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="修改并登录").click()
    expect(page.get_by_role("heading", name=re.compile("^首页"))).to_be_visible()


def staff_register_a_team_and_a_volunteer(browser: Browser) -> None:
    journey = Journey(browser, "staff-team-and-volunteer", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        expect(page.get_by_role("heading", name=re.compile("^首页"))).to_be_visible()
        before = int(page.locator(".figures li", has_text="志愿者").locator(".value").inner_text())

        # The tree: the corps, then a new team under it.
        page.get_by_role("link", name="组织架构", exact=True).click()
        expect(page.get_by_role("heading", name="厦门市巾帼志愿服务总队")).to_be_visible()
        accessible(page, "the corps' page")
        page.get_by_role("button", name="新建").click()
        expect(page.locator("#org_unit\\.display_name-error")).to_be_visible()
        page.get_by_label("名称").fill(TEAM_NAME)
        page.get_by_label("级别（服务队）").select_option(label="区级")
        page.get_by_role("button", name="新建").click()
        expect(page.get_by_role("heading", name=TEAM_NAME)).to_be_visible()
        shared["team_url"] = page.url

        # Its registration form (登记表).
        page.get_by_role("link", name="编辑登记表").click()
        expect(page.get_by_role("heading", name=re.compile("^编辑登记表"))).to_be_visible()
        page.get_by_label("队长").fill("张丽")
        page.get_by_label("依托单位").fill("思明区妇联")
        page.get_by_label("申报人数").fill("35")
        page.get_by_label("成立时间").fill("2016-11-25")
        page.get_by_label("联系电话").fill("0592-2033990")
        page.get_by_label("第1位骨干姓名").fill("陈芳")
        page.get_by_label("第1位骨干职务").fill("副队长")
        page.get_by_label("第1位骨干电话").fill("13812345678")
        page.get_by_label("服务特色").fill("关爱空巢老人")
        accessible(page, "the registration form")
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_role("heading", name=TEAM_NAME)).to_be_visible()
        form = page.get_by_role("region", name="登记表")
        expect(form).to_contain_text("张丽")
        expect(form).to_contain_text("2016年11月25日")
        expect(form).to_contain_text("陈芳")
        # Masked on the page: the key member's phone is not shown whole.
        expect(form).not_to_contain_text("13812345678")
        # The paper form to print, and the history of changes (动态管理).
        page.get_by_role("link", name="打印登记表").click()
        expect(page.get_by_role("heading", name="鹭岛巾帼志愿联盟服务队登记表")).to_be_visible()
        expect(page.locator(".paper")).to_contain_text("张丽")
        expect(page.locator(".paper")).to_contain_text("陈芳")
        expect(page.get_by_role("button", name="打印")).to_be_visible()
        accessible(page, "the printable registration form")
        journey.screenshot("print")
        page.go_back()
        page.get_by_role("link", name="动态管理").click()
        history = page.get_by_role("region", name="登记表的变更")
        expect(history).to_contain_text("修改")
        expect(history).to_contain_text("张丽")
        expect(page.get_by_role("region", name="组织信息的变更")).to_contain_text("新建")
        accessible(page, "the history")
        page.go_back()

        # A volunteer, first with mistakes, each named beside its field in Chinese.
        page.get_by_role("link", name="登记志愿者").click()
        expect(page.get_by_role("heading", name="登记志愿者")).to_be_visible()
        accessible(page, "the registration of a volunteer")
        page.get_by_label("姓名").fill(VOLUNTEER_NAME)
        page.get_by_label("证件号码").fill("110105194912310021")
        page.get_by_label("手机").fill("123")
        page.get_by_role("button", name="登记").click()
        expect(page.locator("#id_number-error")).to_contain_text("校验位")
        expect(page.locator("#phone-error")).to_contain_text("11位")
        expect(page.get_by_label("姓名")).to_have_value(VOLUNTEER_NAME)
        accessible(page, "the registration with its errors")
        journey.screenshot("volunteer-errors")
        page.get_by_label("证件号码").fill(VOLUNTEER_ID)
        page.get_by_label("手机").fill("13812345678")
        page.get_by_role("button", name="登记").click()
        expect(page.get_by_role("heading", name=re.compile(VOLUNTEER_NAME))).to_be_visible()
        shared["volunteer_url"] = page.url
        # Masked, with a reveal that says it is audited.
        expect(page.get_by_text("110***********002X")).to_be_visible()
        expect(page.get_by_text("138****5678")).to_be_visible()
        expect(page.get_by_role("cell", name=TEAM_NAME)).to_be_visible()
        expect(page.get_by_text("将记入审计日志")).to_be_visible()
        accessible(page, "a volunteer's page")
        page.get_by_role("button", name="查看完整信息").click()
        expect(page.get_by_text(VOLUNTEER_ID)).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("已记入审计日志")
        assert VOLUNTEER_ID not in page.url and "1381234" not in page.url

        # Staff find her by her ID number, posted: it never enters a URL.
        page.get_by_role("link", name="志愿者", exact=True).click()
        page.get_by_text("按证件号码查找（工作人员）").click()
        page.get_by_label("证件号码").fill("11010519491231003X")
        page.locator("form[action='/volunteers/lookup'] button").click()
        expect(page.locator("#lookup_id_number-error")).to_be_visible()
        page.get_by_label("证件号码").fill(VOLUNTEER_ID)
        page.locator("form[action='/volunteers/lookup'] button").click()
        expect(page.get_by_role("heading", name=re.compile(VOLUNTEER_NAME))).to_be_visible()
        assert VOLUNTEER_ID not in page.url

        # The register, searched by name without the name entering a URL.
        page.get_by_role("link", name="志愿者", exact=True).click()
        page.get_by_label("按姓名或编号查找").fill("美华")
        expect(page.locator("#volunteer-table")).to_contain_text(VOLUNTEER_NAME)
        page.get_by_label("按姓名或编号查找").fill("无此人")
        expect(page.locator("#volunteer-table")).to_contain_text("没有找到志愿者")
        assert "美华" not in page.url
        # Filtered by status.
        page.get_by_label("按姓名或编号查找").fill("")
        page.get_by_label("状态").select_option(label="已退出")
        expect(page.locator("#volunteer-table")).to_contain_text("没有找到志愿者")
        page.get_by_label("状态").select_option(label="在册")
        expect(page.locator("#volunteer-table")).to_contain_text(VOLUNTEER_NAME)
        accessible(page, "the register")

        # The home page's count moves once reporting has followed the registry.
        deadline = time.monotonic() + 30
        while True:
            page.get_by_role("link", name="首页", exact=True).click()
            now = int(page.locator(".figures li", has_text="志愿者").locator(".value").inner_text())
            if now == before + 1 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert now == before + 1, f"the home page shows {now} volunteers, not {before + 1}"
        journey.screenshot("home-after")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def another_district_sees_none(browser: Browser) -> None:
    journey = Journey(browser, "other-district", DESKTOP)
    try:
        page = journey.page
        first_sign_in(
            page,
            os.environ["EGRET_OTHER_USERNAME"],
            os.environ["EGRET_OTHER_PASSWORD"],
            OTHER_PASSWORD,
        )
        page.get_by_role("link", name="志愿者", exact=True).click()
        expect(page.locator("#volunteer-table")).to_contain_text("没有找到志愿者")
        page.get_by_label("按姓名或编号查找").fill("美华")
        expect(page.locator("#volunteer-table")).to_contain_text("没有找到志愿者")
        # Her ID number finds nothing for another district, as a number never registered.
        page.get_by_text("按证件号码查找（工作人员）").click()
        page.get_by_label("证件号码").fill(VOLUNTEER_ID)
        page.locator("form[action='/volunteers/lookup'] button").click()
        expect(page.locator("#lookup_id_number-error")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text(VOLUNTEER_NAME)
        for url in [shared["team_url"], shared["volunteer_url"]]:
            response = page.goto(url)
            assert response.status in (403, 404), f"{url} answered {response.status}"
            expect(page.get_by_role("alert")).to_be_visible()
            expect(page.locator("main")).not_to_contain_text(VOLUNTEER_NAME)
            expect(page.locator("main")).not_to_contain_text(TEAM_NAME)
        # Signing out ends the session: its pages are gone, even with the back button.
        page.goto(f"{BASE}/")
        page.get_by_role("button", name="退出").click()
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        page.goto(f"{BASE}/volunteers")
        expect(page).to_have_url(f"{BASE}/signin")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def phone_sized(browser: Browser) -> None:
    journey = Journey(browser, "phone", PHONE)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        expect(page.get_by_role("heading", name=re.compile("^首页"))).to_be_visible()
        fits(page, PHONE["width"], "the home page")
        accessible(page, "the home page on a phone")
        page.goto(shared["volunteer_url"])
        expect(page.get_by_role("heading", name=re.compile(VOLUNTEER_NAME))).to_be_visible()
        fits(page, PHONE["width"], "a volunteer's page")
        page.goto(f"{BASE}/volunteers/new")
        fits(page, PHONE["width"], "the registration of a volunteer")
        page.goto(shared["team_url"])
        fits(page, PHONE["width"], "a team's page")
        journey.screenshot("team")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def one_time_password(page: Page) -> str:
    password = page.locator("#one-time-password").inner_text().strip()
    assert len(password) >= 10, f"a one-time password of {len(password)} characters"
    return password


def china_minute_after(seconds: int) -> tuple[str, float]:
    """The first whole minute at least `seconds` from now, as a `datetime-local` value in
    China time, and as epoch seconds."""
    at = time.time() + seconds
    at = at - at % 60 + 60
    china = time.gmtime(at + 8 * 3600)
    return time.strftime("%Y-%m-%dT%H:%M", china), at


def hours_from_activity_to_approval(browser: Browser) -> None:
    """Staff open accounts for a team leader and for the volunteer; the leader publishes an
    activity; the volunteer signs up on her phone; the leader takes her on, starts it and
    shows the check-in code; she checks in and out with it; the leader completes it; staff
    approve the hours; her hours and the home page move."""
    staff = Journey(browser, "staff-accounts", DESKTOP)
    leader = Journey(browser, "leader", DESKTOP)
    volunteer = Journey(browser, "volunteer-phone", PHONE)
    journeys = [staff, leader, volunteer]
    try:
        page = staff.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        before = int(page.locator(".figures li", has_text="服务记录").locator(".value").inner_text())
        page.get_by_role("link", name="账户").click()
        accessible(page, "the accounts")
        page.get_by_role("link", name="新建账户").click()
        page.get_by_label("用户名（小写字母、数字，或手机号码）").fill("Zhang Li!")
        page.get_by_label("姓名").fill("张丽")
        page.get_by_label("所属组织").select_option(label=TEAM_NAME)
        page.get_by_label("角色").select_option(label="队长")
        page.get_by_role("button", name="创建").click()
        expect(page.locator("#username-error")).to_be_visible()
        accessible(page, "a new account with its error")
        page.get_by_label("用户名（小写字母、数字，或手机号码）").fill("zhang.li")
        page.get_by_role("button", name="创建").click()
        leader_once = one_time_password(page)
        page.goto(shared["volunteer_url"])
        page.get_by_role("link", name="为她开设账户").click()
        page.get_by_label("用户名（小写字母、数字，或手机号码）").fill("lin.meihua")
        page.get_by_label("姓名").fill(VOLUNTEER_NAME)
        page.get_by_label("所属组织").select_option(label=TEAM_NAME)
        expect(page.get_by_label("角色")).to_have_value("4")
        page.get_by_role("button", name="创建").click()
        volunteer_once = one_time_password(page)

        # The leader publishes an activity starting in a minute or two.
        lead = leader.page
        first_sign_in(lead, "zhang.li", leader_once, LEADER_PASSWORD)
        lead.get_by_role("link", name="活动", exact=True).click()
        lead.get_by_role("link", name="新建活动").click()
        start, start_epoch = china_minute_after(20)
        end, _ = china_minute_after(3600 + 60)
        lead.get_by_label("活动名称").fill(ACTIVITY_NAME)
        lead.get_by_label("服务地点").fill("曾厝垵社区妇女之家")
        lead.get_by_label("地址").fill("厦门市思明区曾厝垵")
        lead.get_by_label("招募岗位").fill("探访员")
        lead.get_by_label("招募人数").fill("3")
        # A missing start time is named beside its field.
        lead.get_by_role("button", name="保存为草稿").click()
        expect(lead.locator("#start-error")).to_be_visible()
        lead.get_by_label("开始时间").fill(start)
        lead.get_by_label("结束时间").fill(end)
        accessible(lead, "a new activity")
        lead.get_by_role("button", name="保存为草稿").click()
        expect(lead.get_by_role("heading", name=re.compile(ACTIVITY_NAME))).to_contain_text("草稿")
        shared["activity_url"] = lead.url
        lead.get_by_role("button", name="发布招募").click()
        expect(lead.get_by_role("heading", name=re.compile(ACTIVITY_NAME))).to_contain_text("招募中")
        accessible(lead, "an activity's page")

        # She signs up on her phone.
        own = volunteer.page
        first_sign_in(own, "lin.meihua", volunteer_once, VOLUNTEER_PASSWORD)
        expect(own.get_by_role("heading", level=1, name=re.compile("^我的"))).to_be_visible()
        accessible(own, "her own page")
        own.get_by_role("link", name=ACTIVITY_NAME).click()
        own.get_by_role("button", name="报名").click()
        expect(own.get_by_role("status")).to_contain_text("报名已提交")
        fits(own, PHONE["width"], "her activity page")

        # The leader takes her on, starts the activity and shows the code.
        lead.reload()
        lead.get_by_role("button", name=f"录用{VOLUNTEER_NAME}", exact=True).click()
        expect(lead.get_by_role("cell", name="已录用")).to_be_visible()
        lead.get_by_role("button", name="开始活动").click()
        expect(lead.get_by_role("heading", name=re.compile(ACTIVITY_NAME))).to_contain_text("进行中")
        lead.get_by_role("link", name="显示签到码").click()
        code = lead.locator(".code-screen .code").inner_text().strip()
        assert re.fullmatch(r"\d{6}", code), code
        accessible(lead, "the check-in code screen")
        leader.screenshot("check-in-code")

        # She checks in with it: a wrong code first, named beside the field.
        own.reload()
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        own.get_by_label(re.compile("^签到码")).fill(wrong)
        own.get_by_role("button", name="签到").click()
        expect(own.locator("#code-error")).to_contain_text("签到码不正确")
        own.get_by_label(re.compile("^签到码")).fill(code)
        own.get_by_role("button", name="签到").click()
        expect(own.get_by_role("status")).to_contain_text("签到成功")
        fits(own, PHONE["width"], "check-in")
        accessible(own, "check-in on a phone")
        volunteer.screenshot("checked-in")

        # The code screen refreshes itself (htmx, under the Content-Security-Policy).
        lead.evaluate("document.querySelector('#check-in-digits').dataset.old = '1'")
        # (Polled from here: the policy forbids the page evaluating strings, as
        # Playwright's wait_for_function would.)
        refreshed_by = time.monotonic() + 30
        while lead.evaluate("document.querySelector('#check-in-digits').dataset.old === '1'"):
            assert time.monotonic() < refreshed_by, "the check-in code did not refresh"
            time.sleep(0.5)
        expect(lead.locator(".code-screen .code")).to_have_text(re.compile(r"^\d{6}$"))
        # Served a whole minute of the activity, she checks out.
        time.sleep(max(0.0, start_epoch + 65 - time.time()))
        own.get_by_role("button", name="签退").click()
        expect(own.get_by_role("status")).to_contain_text("签退成功")

        lead.goto(shared["activity_url"])
        lead.get_by_role("button", name="完成活动").click()
        expect(lead.get_by_role("heading", name=re.compile(ACTIVITY_NAME))).to_contain_text("已完成")

        # Staff approve her hours.
        page.get_by_role("link", name="审核", exact=True).click()
        accessible(page, "the review queue")
        page.get_by_role("button", name="通过所选").click()
        expect(page.get_by_role("alert")).to_contain_text("请先勾选")
        page.get_by_label(f"选择{VOLUNTEER_NAME}的服务记录").check()
        page.get_by_role("button", name="通过所选").click()
        expect(page.get_by_role("status")).to_contain_text("已通过 1 条服务记录")
        expect(page.get_by_text("没有待审核的服务记录")).to_be_visible()

        # Her hours and the home page move.
        own.goto(f"{BASE}/me")
        expect(own.locator(".figures li", has_text="服务记录").locator(".value")).to_have_text("1")
        minutes = int(own.locator(".figures li", has_text="分钟").locator(".value").inner_text())
        assert minutes >= 1, f"{minutes} minutes"
        volunteer.screenshot("hours")

        # A back-entry (补录) is for service the check-in missed: asked for by the leader,
        # each mistake beside its field; she has a record here already, which the service
        # says in Chinese.
        lead.goto(shared["activity_url"])
        lead.get_by_role("button", name="提交补录").click()
        expect(lead.locator("#back-minutes-error")).to_be_visible()
        lead.get_by_label("服务时长（分钟）").fill("1")
        lead.get_by_label("服务内容").fill("探访前的物资准备")
        lead.get_by_role("button", name="提交补录").click()
        expect(lead.locator("#back-reason-error")).to_be_visible()
        lead.get_by_label("补录原因").fill("签到前已到场准备")
        lead.get_by_role("button", name="提交补录").click()
        expect(lead.get_by_role("alert")).to_contain_text("已有服务记录")
        accessible(lead, "a back-entry refused")

        # She issues herself a certificate of today's service, and anyone can check it.
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
        own.get_by_text("开具证明").click()
        own.get_by_label("服务起始日期").fill(today)
        own.get_by_label("服务截止日期").fill(today)
        own.get_by_role("button", name="开具").click()
        expect(own.get_by_role("heading", name=re.compile("^志愿服务证明"))).to_be_visible()
        expect(own.locator("main")).to_contain_text("有效")
        shared["certificate_url"] = own.url
        svg = own.request.get(own.url + "/page.svg")
        assert svg.ok and "image/svg+xml" in svg.headers["content-type"], svg.status
        assert "志愿服务" in svg.text(), "the A4 page names what it is"
        code = own.locator("#verification-code").text_content().strip()
        serial = own.get_by_role("heading", level=1).locator(".sub").text_content().strip()
        shared["certificate_serial"] = serial
        shared["certificate_code"] = code
        # The printed page carries the code and a QR code of this instance's verify page.
        assert code in svg.text(), "the A4 page prints its verification code"
        assert 'id="verification-qr"' in svg.text(), "the A4 page has its QR code"
        assert f"{BASE}/verify" in svg.text(), "the QR code's address is printed beside it"
        payload = own.locator("#signed-payload").text_content().strip()
        signature = own.locator("#signature").text_content().strip()
        shared["certificate_payload"] = payload
        shared["certificate_signature"] = signature
        accessible(own, "a certificate on a phone")
        deadline = time.monotonic() + 30
        while True:
            page.get_by_role("link", name="首页", exact=True).click()
            now = int(page.locator(".figures li", has_text="服务记录").locator(".value").inner_text())
            if now == before + 1 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert now == before + 1, f"the home page shows {now} service records, not {before + 1}"
    except Exception:
        for journey in journeys:
            journey.screenshot("failure")
        raise
    for journey in journeys:
        journey.close()


def another_district_sees_no_activity(browser: Browser) -> None:
    journey = Journey(browser, "other-district-activity", DESKTOP)
    try:
        page = journey.page
        sign_in(page, os.environ["EGRET_OTHER_USERNAME"], OTHER_PASSWORD)
        page.get_by_role("link", name="活动", exact=True).click()
        expect(page.locator("main")).not_to_contain_text(ACTIVITY_NAME)
        response = page.goto(shared["activity_url"])
        assert response.status in (403, 404), f"the activity answered {response.status}"
        expect(page.locator("main")).not_to_contain_text(ACTIVITY_NAME)
        page.goto(f"{BASE}/review")
        expect(page.locator("main")).not_to_contain_text(VOLUNTEER_NAME)
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def anyone_verifies_a_certificate(browser: Browser) -> None:
    journey = Journey(browser, "verify", PHONE)
    try:
        page = journey.page
        page.goto(f"{BASE}/signin")
        page.get_by_role("link", name="证书验证").click()
        accessible(page, "the public verification page")
        # By its serial number and code, as printed or from its QR code: a wrong code is
        # answered exactly as a serial that does not exist.
        serial, code = shared["certificate_serial"], shared["certificate_code"]
        page.get_by_label("证明编号").fill(serial)
        page.get_by_label("验证码").fill("0000000000" if code != "0000000000" else "1111111111")
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_role("alert")).to_contain_text("未找到该编号与验证码对应的证明")
        page.get_by_label("验证码").fill(code.lower())
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_role("status")).to_contain_text("证明有效")
        expect(page.locator("dl")).to_contain_text(VOLUNTEER_NAME)
        expect(page.locator("main")).not_to_contain_text(VOLUNTEER_ID)
        accessible(page, "a certificate found by its serial number")
        page.goto(f"{BASE}/verify?serial={serial}&code={code}")
        expect(page.get_by_role("status")).to_contain_text("证明有效")
        page.get_by_text("用证明内容与签名核验").click()
        page.get_by_role("button", name="验证").click()
        expect(page.locator("#payload-error")).to_be_visible()
        expect(page.locator("#signature-error")).to_be_visible()
        payload = shared["certificate_payload"]
        page.get_by_label("证明内容（验证信息中的文本）").fill(payload)
        page.get_by_label("签名").fill(shared["certificate_signature"])
        page.get_by_role("button", name="验证").click()
        expect(page.get_by_role("status")).to_contain_text("证明有效")
        expect(page.locator("dl")).to_contain_text(VOLUNTEER_NAME)
        # Only what is printed: the ID number stays masked.
        expect(page.locator("main")).not_to_contain_text(VOLUNTEER_ID)
        fits(page, PHONE["width"], "the verification page")
        journey.screenshot("valid")
        # One changed figure and the signature no longer holds.
        tampered = re.sub(r'"service_minutes":(\d+)', lambda m: f'"service_minutes":{int(m.group(1)) + 600}', payload)
        assert tampered != payload
        page.get_by_label("证明内容（验证信息中的文本）").fill(tampered)
        page.get_by_role("button", name="验证").click()
        expect(page.get_by_role("alert")).to_contain_text("证明无效")

        # Staff revoke it; it no longer verifies.
        staff = Journey(browser, "revoke", DESKTOP)
        try:
            sign_in(staff.page, "admin", ADMIN_PASSWORD)
            staff.page.goto(shared["certificate_url"])
            staff.page.get_by_label("撤销原因").fill("测试撤销")
            staff.page.get_by_role("button", name="撤销证明").click()
            expect(staff.page.locator("main")).to_contain_text("已撤销")
        except Exception:
            staff.screenshot("failure")
            raise
        staff.close()
        page.get_by_label("证明内容（验证信息中的文本）").fill(payload)
        page.get_by_role("button", name="验证").click()
        expect(page.get_by_role("alert")).to_contain_text("证明无效")
        page.goto(f"{BASE}/verify?serial={serial}&code={code}")
        expect(page.get_by_role("alert")).to_contain_text("证明无效")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def china_day(days_from_today: int) -> str:
    """A day in China (UTC+8) as a date input takes it."""
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 + days_from_today * 86400))


def projects_training_and_insurance(browser: Browser) -> None:
    journey = Journey(browser, "projects-training-insurance", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)

        # A project: the funding source is required, named beside its field.
        page.get_by_role("link", name="项目", exact=True).click()
        expect(page.get_by_text("没有项目")).to_be_visible()
        accessible(page, "the projects")
        page.get_by_label("项目名称").fill("银发关爱计划")
        page.get_by_label("开始日期").fill(china_day(0))
        page.get_by_label("结束日期").fill(china_day(180))
        page.get_by_label("预算（元）").fill("12000.50")
        page.get_by_role("button", name="创建项目").click()
        expect(page.locator("#funding_source-error")).to_be_visible()
        expect(page.get_by_label("项目名称")).to_have_value("银发关爱计划")
        page.get_by_label("资金来源").select_option(label="妇联资助")
        page.get_by_role("button", name="创建项目").click()
        expect(page.get_by_role("status")).to_contain_text("项目已创建")
        row = page.get_by_role("row", name=re.compile("银发关爱计划"))
        expect(row).to_contain_text("筹备中")
        expect(row).to_contain_text("12000.50")
        page.get_by_role("button", name="开始实施：银发关爱计划").click()
        expect(page.get_by_role("row", name=re.compile("银发关爱计划"))).to_contain_text("实施中")
        page.get_by_role("link", name="实施中").click()
        expect(page.get_by_role("row", name=re.compile("银发关爱计划"))).to_be_visible()
        page.get_by_role("link", name="已结项").click()
        expect(page.get_by_text("没有项目")).to_be_visible()
        # A new activity can belong to it.
        page.goto(f"{BASE}/activities/new")
        expect(page.get_by_label("所属项目").locator("option", has_text="银发关爱计划")).to_have_count(1)

        # A course, and a session she completed: she gains its qualification.
        page.get_by_role("link", name="培训", exact=True).click()
        accessible(page, "the courses")
        page.get_by_role("button", name="创建课程").click()
        expect(page.locator("#display_name-error")).to_be_visible()
        page.get_by_label("开课组织").select_option(label=TEAM_NAME)
        page.get_by_label("课程名称").fill("居家探访安全须知")
        page.get_by_label("类别").select_option(label="安全知识")
        page.get_by_label("完成后取得的资格").fill("探访志愿者")
        page.get_by_label("资格有效期（天，空为长期）").fill("365")
        page.get_by_role("button", name="创建课程").click()
        expect(page.get_by_role("heading", name="居家探访安全须知")).to_be_visible()
        page.get_by_label("开始时间（北京时间）").fill(china_day(-1) + "T09:00")
        page.get_by_label("结束时间（北京时间）").fill(china_day(-1) + "T11:00")
        page.get_by_label("地点").fill("曾厝垵社区服务中心")
        page.get_by_label(re.compile(VOLUNTEER_NAME)).check()
        accessible(page, "a course with its session form")
        page.get_by_role("button", name="登记", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("1 名志愿者完成培训")
        page.goto(shared["volunteer_url"])
        expect(page.get_by_role("cell", name="探访志愿者")).to_be_visible()

        # Insurance: an amount that is not one is named beside its field; a policy ending
        # within 30 days shows among those expiring.
        page.get_by_role("link", name="保险", exact=True).click()
        accessible(page, "the insurance policies")
        page.get_by_label("投保组织").select_option(label=TEAM_NAME)
        page.get_by_label("保险公司").fill("中国人寿厦门分公司")
        page.get_by_label("保单号").fill("PICC-2026-0001")
        page.get_by_label("保障内容").fill("志愿服务意外伤害")
        page.get_by_label("保额（元）").fill("十万")
        page.get_by_label("起保日期").fill(china_day(-300))
        page.get_by_label("终止日期").fill(china_day(10))
        page.get_by_role("button", name="登记").click()
        expect(page.locator("#sum_insured-error")).to_be_visible()
        page.get_by_label("保额（元）").fill("100000")
        page.get_by_role("button", name="登记").click()
        expect(page.get_by_role("status")).to_contain_text("保单已登记")
        page.get_by_role("link", name="30 天内到期").click()
        row = page.get_by_role("row", name=re.compile("PICC-2026-0001"))
        expect(row).to_contain_text("100000.00")
        expect(row).to_contain_text("有效")
        journey.screenshot("insurance")
        row.get_by_label(re.compile("注销保单")).fill("保单到期前更换")
        row.get_by_role("button", name="注销").click()
        expect(page.get_by_role("status")).to_contain_text("保单已注销")
        expect(page.get_by_role("row", name=re.compile("PICC-2026-0001"))).to_contain_text("已注销")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def honours_stars_and_points(browser: Browser) -> None:
    admin = Journey(browser, "honours-admin", DESKTOP)
    volunteer = Journey(browser, "honours-volunteer", PHONE)
    try:
        page = admin.page
        sign_in(page, "admin", ADMIN_PASSWORD)

        # An honour with a week's public notice.
        page.get_by_role("link", name="表彰", exact=True).click()
        accessible(page, "the honours")
        page.get_by_label("荣誉名称").fill("优秀巾帼志愿者")
        page.get_by_label("类别").select_option(label="优秀巾帼志愿者")
        page.get_by_label("级别").select_option(label="区级")
        page.get_by_label("授予对象").select_option(label="志愿者")
        page.get_by_label("公示天数（空为不公示）").fill("7")
        page.get_by_role("button", name="创建荣誉").click()
        expect(page.get_by_role("status")).to_contain_text("荣誉已创建")
        expect(page.get_by_role("row", name=re.compile("7 天"))).to_be_visible()

        # She is nominated from her page, passes review and goes on notice; an objection
        # is recorded; she cannot be awarded before the notice ends.
        page.goto(shared["volunteer_url"])
        page.get_by_text("推荐星级").click()
        page.get_by_role("link", name="推荐表彰").click()
        expect(page.get_by_role("heading", name=re.compile("推荐表彰"))).to_be_visible()
        page.get_by_label("事迹").fill("长期坚持探访空巢老人。")
        accessible(page, "a nomination")
        page.get_by_role("button", name="提交推荐").click()
        expect(page.get_by_role("status")).to_contain_text("已提交推荐")
        expect(page.locator("#commendation-state")).to_have_text("已推荐")
        page.get_by_label("评审意见").fill("事迹属实")
        page.get_by_role("button", name="评审通过（进入公示）").click()
        expect(page.locator("#commendation-state")).to_have_text("公示中")
        page.get_by_label("记录公示期收到的异议").fill("服务时长存疑，请核实。")
        page.get_by_role("button", name="记录异议").click()
        expect(page.get_by_role("heading", name="公示异议（1）")).to_be_visible()
        expect(page.get_by_text("服务时长存疑")).to_be_visible()
        page.get_by_role("button", name="授予", exact=True).click()
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page.locator("#commendation-state")).to_have_text("公示中")
        accessible(page, "a commendation on notice")
        admin.screenshot("commendation")
        # The review queue lists it, with the star nominations.
        page.get_by_role("link", name="审核", exact=True).click()
        queue = page.get_by_role("region", name="表彰评审与公示")
        expect(queue).to_contain_text(VOLUNTEER_NAME)
        expect(queue).to_contain_text("公示中")
        expect(page.get_by_text("没有待审批的星级推荐")).to_be_visible()
        accessible(page, "the review queues")

        # A star her hours do not reach is refused, in Chinese.
        page.goto(shared["volunteer_url"])
        page.get_by_text("推荐星级").click()
        page.get_by_label("星级").select_option(label="1 星")
        page.get_by_role("button", name="提交推荐").click()
        expect(page.get_by_role("alert").first).to_be_visible()
        expect(page.locator("#standing-stars")).to_have_text("—")

        # A benefit; her points do not reach it.
        page.get_by_role("link", name="积分", exact=True).click()
        accessible(page, "the points, as staff")
        page.get_by_label("权益名称").fill("爱心理发券")
        page.get_by_label("所需积分").fill("50")
        page.get_by_label("库存").fill("20")
        page.get_by_role("button", name="上架").click()
        expect(page.get_by_role("status")).to_contain_text("权益已上架")
        expect(page.get_by_role("row", name=re.compile("爱心理发券"))).to_contain_text("上架中")

        own = volunteer.page
        sign_in(own, "lin.meihua", VOLUNTEER_PASSWORD)
        expect(own.get_by_role("cell", name="探访志愿者")).to_be_visible()
        expect(own.get_by_text("公示中")).to_be_visible()
        own.get_by_role("link", name="积分兑换").click()
        expect(own.locator("#points-balance")).to_be_visible()
        accessible(own, "her points on a phone")
        fits(own, PHONE["width"], "her points")
        own.get_by_role("button", name="兑换爱心理发券").click()
        expect(own.get_by_role("alert")).to_be_visible()
        expect(own.get_by_text("没有兑换记录")).to_be_visible()
        volunteer.screenshot("points")
    except Exception:
        admin.screenshot("failure")
        volunteer.screenshot("failure")
        raise
    admin.close()
    volunteer.close()


def resident_id(first17: str) -> str:
    """A resident ID number with its check digit (GB 11643)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


def a_woman_registers_herself(browser: Browser) -> None:
    staff = Journey(browser, "join-staff", DESKTOP)
    joining = Journey(browser, "join-phone", PHONE)
    try:
        page = staff.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        page.goto(shared["team_url"])
        link = page.locator("#join-link").get_attribute("href")
        assert link and link.startswith("/join/"), link

        # Signed out, on her phone, from the team's link: each mistake is named as she
        # types, before she submits.
        own = joining.page
        own.goto(BASE + link)
        expect(own.get_by_role("heading", name="志愿者报名")).to_be_visible()
        accessible(own, "the registration form on a phone")
        fits(own, PHONE["width"], "the registration form")
        checks = own.locator("#live-checks")
        own.get_by_label("姓名").fill("陈秀英")
        own.get_by_label("证件号码").fill(resident_id("35020319850312004")[:-1] + "0")
        expect(checks).to_contain_text("证件号码：")
        expect(checks.locator(".bad")).to_contain_text("校验位")
        own.get_by_label("证件号码").fill(VOLUNTEER_ID)
        expect(checks).to_contain_text("已注册")
        fresh = resident_id("35020319850312004")
        own.get_by_label("证件号码").fill(fresh)
        expect(checks).to_contain_text("证件号码格式正确，尚未登记")
        own.get_by_label("用户名（小写字母、数字，或手机号码）").fill("lin.meihua")
        expect(checks).to_contain_text("用户名：")
        own.get_by_label("用户名（小写字母、数字，或手机号码）").fill("chen.xiuying")
        expect(checks).to_contain_text("用户名可以使用")
        own.get_by_label("手机", exact=True).fill("13912345678")
        own.get_by_label("密码（至少 10 个字符）").fill("秀英-own-2026")
        own.get_by_label("再次输入密码").fill("秀英-own-2026x")
        own.get_by_role("button", name="提交报名").click()
        expect(own.locator("#confirm_password-error")).to_be_visible()
        assert fresh not in own.url
        joining.screenshot("refused")
        own.get_by_label("密码（至少 10 个字符）").fill("秀英-own-2026")
        own.get_by_label("再次输入密码").fill("秀英-own-2026")
        own.get_by_role("button", name="提交报名").click()
        expect(own.get_by_role("heading", level=1, name=re.compile("^我的"))).to_be_visible()
        expect(own.get_by_role("status")).to_contain_text("入队申请已提交")
        joining.screenshot("registered")

        # The team approves her application.
        page.reload()
        applications = page.get_by_role("region", name="待审核入队申请")
        expect(applications).to_contain_text("陈秀英")
        applications.get_by_role("button", name="同意陈秀英入队").click()
        expect(page.get_by_role("status")).to_be_visible()
        expect(page.get_by_role("region", name="待审核入队申请")).to_have_count(0)
    except Exception:
        staff.screenshot("failure")
        joining.screenshot("failure")
        raise
    staff.close()
    joining.close()


def column(page: Page, table: str, index: int) -> list[str]:
    """The texts of one column of a table's body."""
    return [
        cell.strip()
        for cell in page.locator(f"{table} tbody tr").evaluate_all(
            f"rows => rows.map(row => row.cells[{index}].innerText)"
        )
    ]


def lists_sorted_by_column_and_searched_by_number(browser: Browser) -> None:
    journey = Journey(browser, "sorted-lists", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)

        # The register: a number typed into the search finds her, and only her.
        page.get_by_role("link", name="志愿者", exact=True).click()
        table = page.locator("#volunteer-table")
        expect(table.locator("tbody tr")).not_to_have_count(0)
        numbers = column(page, "#volunteer-table", 0)
        assert len(numbers) >= 2, f"the register holds {numbers}"
        wanted = numbers[-1]
        page.get_by_label("按姓名或编号查找").fill(wanted)
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table.locator("tbody tr").first.locator("td").first).to_have_text(wanted)
        page.get_by_label("按姓名或编号查找").fill(wanted + "9")
        expect(table).to_contain_text("没有找到志愿者")
        page.get_by_label("按姓名或编号查找").fill("")
        expect(table.locator("tbody tr")).to_have_count(len(numbers))

        # Sorted by a header: ascending, then descending; the order holds while the
        # filters change, and reads as such to a screen reader.
        name_header = table.locator("th", has=page.get_by_role("button", name="姓名"))
        table.get_by_role("button", name="姓名").click()
        expect(name_header).to_have_attribute("aria-sort", "ascending")
        names = column(page, "#volunteer-table", 1)
        assert names == sorted(names), f"ascending: {names}"
        table.get_by_role("button", name="姓名").click()
        expect(name_header).to_have_attribute("aria-sort", "descending")
        names = column(page, "#volunteer-table", 1)
        assert names == sorted(names, reverse=True), f"descending: {names}"
        page.get_by_label("状态").select_option(label="在册")
        expect(page.locator("#volunteer-table th[aria-sort=descending]")).to_have_count(1)
        names = column(page, "#volunteer-table", 1)
        assert names == sorted(names, reverse=True), f"filtered: {names}"
        table.get_by_role("button", name="编号").click()
        expect(page.locator("#volunteer-table th[aria-sort=ascending]")).to_contain_text("编号")
        numbers = column(page, "#volunteer-table", 0)
        assert numbers == sorted(numbers), f"by number: {numbers}"
        accessible(page, "the sorted register")
        journey.screenshot("register-sorted")

        # Lists read with GET sort by links, kept by their tabs.
        page.get_by_role("link", name="活动", exact=True).click()
        page.locator("thead").get_by_role("link", name="开始").click()
        expect(page.locator("th[aria-sort=ascending]")).to_contain_text("开始")
        assert "sort=start_time" in page.url, page.url
        page.locator("thead").get_by_role("link", name="开始").click()
        expect(page.locator("th[aria-sort=descending]")).to_contain_text("开始")
        page.get_by_role("link", name="已完成", exact=True).click()
        expect(page.locator("th[aria-sort=descending]")).to_contain_text("开始")
        accessible(page, "the sorted activities")

        page.get_by_role("link", name="项目", exact=True).click()
        page.locator("thead").get_by_role("link", name="预算（元）").click()
        expect(page.locator("th[aria-sort=ascending]")).to_contain_text("预算")
        budgets = [float(budget) for budget in column(page, "main table", 3)]
        assert budgets == sorted(budgets), f"budgets: {budgets}"

        page.get_by_role("link", name="账户", exact=True).click()
        page.locator("thead").get_by_role("link", name="用户名").click()
        page.locator("thead").get_by_role("link", name="用户名").click()
        expect(page.locator("th[aria-sort=descending]")).to_contain_text("用户名")
        usernames = column(page, "main table", 0)
        assert len(usernames) >= 2 and usernames == sorted(usernames, reverse=True), usernames
        accessible(page, "the sorted accounts")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def a_unit_suspended_resumed_and_merged(browser: Browser) -> None:
    journey = Journey(browser, "unit-status", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        page.get_by_role("link", name="组织架构", exact=True).click()
        page.get_by_label("名称").fill("思明区第二服务队")
        page.get_by_role("button", name="新建").click()
        expect(page.get_by_role("heading", name="思明区第二服务队")).to_be_visible()
        changes = page.get_by_role("region", name="状态变更与调整")
        accessible(page, "a unit with its status changes")
        changes.get_by_label("原因（记入动态管理）").fill("队伍整顿")
        changes.get_by_role("button", name="暂停").click()
        expect(page.get_by_role("status")).to_contain_text("已暂停")
        expect(page.locator("dl.facts").first).to_contain_text("暂停")
        changes.get_by_role("button", name="恢复").click()
        expect(page.get_by_role("status")).to_contain_text("已恢复")
        expect(page.locator("dl.facts").first).to_contain_text("正常")
        page.get_by_role("link", name="动态管理").click()
        expect(page.get_by_role("region", name="组织信息的变更")).to_contain_text("队伍整顿")
        page.go_back()
        changes.get_by_label("并入（同层级组织）").select_option(label=TEAM_NAME)
        changes.get_by_label("原因（记入动态管理）").fill("两队合并")
        changes.get_by_role("button", name="并入所选组织").click()
        expect(page.get_by_role("status")).to_contain_text("已并入")
        expect(page.locator("dl.facts").first).to_contain_text("已合并")
        journey.screenshot("merged")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def annual_report_from_team_to_approval(browser: Browser) -> None:
    admin = Journey(browser, "annual-admin", DESKTOP)
    leader = Journey(browser, "annual-leader", DESKTOP)
    try:
        page = admin.page
        year = time.strftime("%Y", time.gmtime(time.time() + 8 * 3600))
        sign_in(page, "admin", ADMIN_PASSWORD)
        page.get_by_role("link", name="年报", exact=True).click()
        expect(page.get_by_text("还没有开启的年报年度")).to_be_visible()
        page.get_by_text("开启年报年度或调整截止日期").click()
        page.get_by_label("年度").fill(year)
        page.get_by_label("截止日期").fill(f"{year}-12-31")
        page.get_by_role("button", name="开启").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"{year} 年度")
        accessible(page, "the annual reports")

        lead = leader.page
        sign_in(lead, "zhang.li", LEADER_PASSWORD)
        lead.get_by_role("link", name="年报", exact=True).click()
        lead.get_by_role("link", name=f"本队 {year} 年年报").click()
        figures = lead.get_by_role("region", name=re.compile("^数据统计"))
        expect(figures.locator("li", has_text="开展活动").locator(".value")).to_have_text("1")
        expect(figures.locator("li", has_text="服务记录").locator(".value")).to_have_text("1")
        lead.get_by_label("年度亮点").fill("全年开展敬老探访，关爱空巢老人。")
        accessible(lead, "a team's annual report")
        lead.get_by_role("button", name="提交").click()
        expect(lead.get_by_role("status")).to_contain_text("已提交")

        # Returned without a comment: the comment is required.
        page.goto(f"{BASE}/annual?year={year}")
        page.get_by_role("link", name=TEAM_NAME).click()
        page.get_by_role("button", name="退回").click()
        expect(page.get_by_role("alert")).to_be_visible()
        page.get_by_label("审核意见（退回时必填）").fill("请补充来年计划。")
        page.get_by_role("button", name="退回").click()
        expect(page.get_by_role("status")).to_contain_text("已退回")

        lead.reload()
        expect(lead.get_by_text("审核意见：请补充来年计划。")).to_be_visible()
        lead.get_by_label("来年计划").fill("明年每月开展一次探访。")
        lead.get_by_role("button", name="提交").click()
        expect(lead.get_by_role("status")).to_contain_text("已提交")

        page.reload()
        page.get_by_role("button", name="通过").click()
        expect(page.get_by_role("status")).to_contain_text("已通过")
        page.goto(f"{BASE}/annual?year={year}")
        total = page.locator("tr.total td")
        expect(total.nth(3)).to_have_text("1")  # 已通过
        admin.screenshot("progress")
    except Exception:
        admin.screenshot("failure")
        leader.screenshot("failure")
        raise
    admin.close()
    leader.close()


def the_sync_page(browser: Browser) -> None:
    journey = Journey(browser, "sync", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        page.get_by_role("link", name="同步", exact=True).click()
        expect(page.get_by_role("heading", name="各区实例的同步")).to_be_visible()
        expect(page.get_by_text("还没有区级实例上报数据")).to_be_visible()
        accessible(page, "the sync page")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def statistics_with_a_chart_and_downloads(browser: Browser) -> None:
    journey = Journey(browser, "statistics", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        # The home page's hours month by month, this month last, with the chart beside.
        months = page.get_by_role("region", name="每月服务时长")
        expect(months.locator("tbody tr")).to_have_count(12)
        this_month = time.strftime("%Y-%m", time.gmtime(time.time() + 8 * 3600))
        expect(months.locator("tbody tr").last).to_contain_text(this_month)
        chart = months.get_by_role("img")
        page.wait_for_load_state("networkidle")
        assert chart.evaluate("img => img.naturalWidth") > 0, "the monthly chart did not load"
        accessible(page, "the home page with its months")
        page.get_by_role("link", name="统计", exact=True).click()
        accessible(page, "the statistics form")
        page.get_by_label("指标").select_option(label="服务记录数")
        page.get_by_label("按……分组", exact=True).select_option(label="下级组织")
        page.get_by_label("开始日期").fill(time.strftime("%Y-01-01"))
        page.get_by_role("button", name="统计").click()
        result = page.get_by_role("region", name=re.compile("^结果"))
        expect(result).to_contain_text(TEAM_NAME)
        expect(result.get_by_role("heading")).to_contain_text("合计 1")
        # The chart beside the table, drawn by the reporting service.
        chart = result.get_by_role("img")
        expect(chart).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert chart.evaluate("img => img.naturalWidth") > 0, "the chart did not load"
        accessible(page, "the statistics with their chart")
        journey.screenshot("statistics")
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 CSV").click()
        csv = pathlib.Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert TEAM_NAME in csv, csv
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 XLSX").click()
        xlsx = pathlib.Path(download.value.path()).read_bytes()
        assert xlsx[:2] == b"PK", "an XLSX file is a zip"
        assert download.value.suggested_filename.endswith(".xlsx")
        # A bad date is named beside its field.
        page.goto(f"{BASE}/statistics?metric=2&start=2026-13-45")
        expect(page.locator("#start_date-error")).to_be_visible()
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()


def export_job(page: Page, what: str, file_format: str, rows: int, **period: str) -> str:
    """Starts an export on 导出 and follows its job page until the bar is full; the job's
    address."""
    page.get_by_role("link", name="导出", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="导出")).to_be_visible()
    page.get_by_label("导出内容").select_option(label=what)
    page.get_by_label("文件格式").select_option(label=file_format)
    page.get_by_label("版式").select_option(label="本系统格式")
    if "start" in period:
        page.get_by_label("开始日期（仅服务记录）").fill(period["start"])
    if "end" in period:
        page.get_by_label("结束日期（仅服务记录，空为今天）").fill(period["end"])
    page.get_by_role("button", name="开始导出").click()
    expect(page).to_have_url(re.compile(r"/exports/[0-9a-f]{32}$"))
    # The bar, refreshed by htmx every second, reaches its maximum: the rows counted.
    bar = page.get_by_label("导出进度")
    expect(bar).to_have_attribute("max", str(rows))
    expect(bar).to_have_attribute("value", str(rows))
    expect(page.locator("#export-rows")).to_have_text(f"已写入 {rows:,} / {rows:,} 行")
    expect(page.locator("#export-stage")).to_have_text("已完成")
    # Finished, the fragment polls no more.
    fragment = page.locator("#export-job")
    expect(fragment).not_to_have_attribute("hx-trigger", "every 1s")
    return page.url


def exports_with_progress_and_downloads(browser: Browser) -> None:
    journey = Journey(browser, "exports", DESKTOP)
    try:
        page = journey.page
        sign_in(page, "admin", ADMIN_PASSWORD)
        # 统计 points to 导出 for the long exports.
        page.get_by_role("link", name="统计", exact=True).click()
        page.locator("main").get_by_role("link", name="导出").first.click()
        expect(page.get_by_role("heading", level=1, name="导出")).to_be_visible()
        expect(page.get_by_text("还没有导出任务")).to_be_visible()
        accessible(page, "the exports")

        # 志愿者名册 as XLSX: the two volunteers of the team (林美华, and 陈秀英, who
        # registered herself and was taken on).
        url = export_job(page, "志愿者名册", "XLSX", 2)
        shared["export_url"] = url
        assert re.search(r"/exports/[0-9a-f]{32}$", url), url
        accessible(page, "a finished export")
        journey.screenshot("export-finished")
        # The fragment the page polls, as htmx asks for it.
        fragment = page.request.get(url + "/progress", headers={"hx-request": "true"})
        assert fragment.ok and "已写入 2 / 2 行" in fragment.text(), fragment.status
        assert "hx-trigger" not in fragment.text(), "a finished job is polled no more"
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("^下载文件")).click()
        assert download.value.suggested_filename.endswith(".xlsx"), download.value.suggested_filename
        xlsx = pathlib.Path(download.value.path()).read_bytes()
        with zipfile.ZipFile(io.BytesIO(xlsx)) as workbook:
            assert "xl/worksheets/sheet1.xml" in workbook.namelist(), workbook.namelist()
            parts = "".join(
                workbook.read(name).decode("utf-8", "replace") for name in workbook.namelist()
            )
        assert VOLUNTEER_NAME in parts, "the names, for staff"
        assert VOLUNTEER_ID not in parts, "ID numbers stay masked"

        # 服务记录 as CSV for this year: the one record of the activity.
        year_start = time.strftime("%Y-01-01", time.gmtime(time.time() + 8 * 3600))
        export_job(page, "服务记录", "CSV", 1, start=year_start, end=china_day(0))
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("^下载文件")).click()
        assert download.value.suggested_filename.endswith(".csv"), download.value.suggested_filename
        csv = pathlib.Path(download.value.path()).read_text(encoding="utf-8-sig")
        lines = [line for line in csv.splitlines() if line]
        assert lines[0] == (
            "记录编号,志愿者编号,姓名,证件号码,服务日期,服务时长（小时）,服务时长（分钟）,"
            "服务内容,活动名称,所属组织,状态"
        ), lines[0]
        assert len(lines) == 2, lines
        assert VOLUNTEER_NAME in lines[1] and ACTIVITY_NAME in lines[1], lines[1]
        assert VOLUNTEER_ID not in csv

        # Her jobs, listed on 导出; a period that ends before it starts is refused.
        page.get_by_role("link", name="导出", exact=True).click()
        jobs = page.get_by_role("region", name="我的导出任务")
        expect(jobs.locator("tbody tr")).to_have_count(2)
        expect(jobs.locator("tbody tr", has_text="志愿者名册")).to_contain_text("已完成")
        expect(jobs.locator("tbody tr", has_text="服务记录")).to_contain_text("已写入 1 / 1 行")
        page.get_by_label("导出内容").select_option(label="服务记录")
        page.get_by_label("开始日期（仅服务记录）").fill(china_day(0))
        page.get_by_label("结束日期（仅服务记录，空为今天）").fill(china_day(-1))
        page.get_by_role("button", name="开始导出").click()
        expect(page.locator("#end-error")).to_be_visible()
        page.get_by_label("导出内容").select_option(label="队伍登记表")
        page.get_by_label("版式").select_option(label="中国志愿服务网导入模板")
        page.get_by_role("button", name="开始导出").click()
        expect(page.locator("#layout-error")).to_be_visible()
        accessible(page, "the exports with their errors")
        journey.screenshot("exports")
    except Exception:
        journey.screenshot("failure")
        raise
    journey.close()

    # Another district's staff: the job is not there for her, exactly as an unknown one.
    other = Journey(browser, "exports-other-district", DESKTOP)
    try:
        page = other.page
        sign_in(page, os.environ["EGRET_OTHER_USERNAME"], OTHER_PASSWORD)
        page.get_by_role("link", name="导出", exact=True).click()
        expect(page.get_by_text("还没有导出任务")).to_be_visible()
        url = shared["export_url"]
        unknown = re.sub(r"[0-9a-f]{32}$", "0" * 32, url)
        for address in [url, url + "/file", url + "/progress", unknown]:
            response = page.goto(address)
            assert response.status == 404, f"{address} answered {response.status}"
            expect(page.get_by_role("alert")).to_contain_text("未找到该导出任务")
            expect(page.locator("main")).not_to_contain_text("志愿者名册")
    except Exception:
        other.screenshot("failure")
        raise
    other.close()

    # A volunteer exports nothing: the menu does not offer it.
    own = Journey(browser, "exports-volunteer", PHONE)
    try:
        page = own.page
        sign_in(page, "lin.meihua", VOLUNTEER_PASSWORD)
        expect(page.get_by_role("heading", level=1, name=re.compile("^我的"))).to_be_visible()
        expect(page.get_by_role("link", name="导出", exact=True)).to_have_count(0)
    except Exception:
        own.screenshot("failure")
        raise
    own.close()


JOURNEYS = [
    signed_out_reveals_nothing,
    admin_first_sign_in,
    staff_register_a_team_and_a_volunteer,
    another_district_sees_none,
    phone_sized,
    hours_from_activity_to_approval,
    another_district_sees_no_activity,
    anyone_verifies_a_certificate,
    projects_training_and_insurance,
    honours_stars_and_points,
    a_woman_registers_herself,
    lists_sorted_by_column_and_searched_by_number,
    a_unit_suspended_resumed_and_merged,
    statistics_with_a_chart_and_downloads,
    exports_with_progress_and_downloads,
    annual_report_from_team_to_approval,
    the_sync_page,
]


def main() -> int:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for journey in JOURNEYS:
                started = time.monotonic()
                try:
                    journey(browser)
                except Exception:
                    print(f"journey {journey.__name__}: FAILED")
                    traceback.print_exc()
                    return 1
                print(f"journey {journey.__name__}: ok ({time.monotonic() - started:.1f}s)")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
