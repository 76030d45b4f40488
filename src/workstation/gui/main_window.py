"""The main window: logon, the work area (dashboard, keys, ceremonies, exchanges,
administration, audit) and the lock screen, with the session panel beside the work and the
demo panel in demo mode."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from .state import AppState

if TYPE_CHECKING:
    from .certificates_page import CertificatesPage

LOGON, WORK, LOCKED = 0, 1, 2
PREPARE_WORK_AREA_MS = 250


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, *, kiosk: bool = False) -> None:
        super().__init__()
        from .logon import LogonScreen

        self.state = state
        # Kiosk mode (docs/kiosk.md): full screen without a frame, and closing the window
        # logs everyone off instead of quitting; only start-up failures end the program
        # (may_close), and the kiosk session starts it again.
        self.kiosk = kiosk
        self.may_close = not kiosk
        if kiosk:
            self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Key Custodian Workstation")
        self.stack = QStackedWidget(self)
        self.logon = LogonScreen(state, self)
        # The work area (dashboard, keys, administration, audit) is built just after the
        # logon window shows, while the first person types their PIN: the window opens
        # fast, and the pages are ready by the time anyone is logged on.
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("workTabs")
        self._pages: dict[str, QWidget] = {}
        self._lock_screen: QWidget | None = None
        self.stack.addWidget(self.logon)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)
        QTimer.singleShot(PREPARE_WORK_AREA_MS, self._build_work_area)

        # The session panel and the lock screen are only seen once someone is logged on:
        # they are built with the work area.
        self.session_dock = QDockWidget("Session", self)
        self.session_dock.setObjectName("sessionDock")
        self.session_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.session_dock)

        self.demo_dock: QDockWidget | None = None
        if state.demo:
            self.add_demo_panel()

        self._build_menu()
        self.status = QLabel(self)
        self.statusBar().addPermanentWidget(self.status)
        state.runner.busy_changed.connect(self._busy)
        state.session_changed.connect(self._session_changed)
        state.locked.connect(self._locked)
        state.unlocked.connect(self._unlocked)
        self._show(LOGON)
        self._restore()

    def add_demo_panel(self) -> None:
        """The demo cards, beside the session panel as a tab: the work area keeps its width,
        and on the logon screen (no session panel) the demo cards stand alone on the right."""
        from .demo_panel import DemoPanel

        if self.demo_dock is not None:
            return
        panel = DemoPanel(self.state, self)
        self.demo_dock = QDockWidget("Demo cards", self)
        self.demo_dock.setObjectName("demoDock")
        self.demo_dock.setWidget(panel)
        self.demo_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.demo_dock.setMinimumWidth(panel.sizeHint().width())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.demo_dock)
        self.tabifyDockWidget(self.session_dock, self.demo_dock)

    def _build_work_area(self) -> None:
        if self._pages:
            return
        if not self.state.started:  # deferred start still running: pages need the services
            QTimer.singleShot(PREPARE_WORK_AREA_MS, self._build_work_area)
            return
        from .lock import LockScreen
        from .session_panel import SessionPanel

        self.session_panel = SessionPanel(self.state, self)
        self.session_dock.setWidget(self.session_panel)
        self._lock_screen = LockScreen(self.state, self)
        self.stack.addWidget(self._lock_screen)  # index LOCKED
        from .admin import AdminPage
        from .audit_view import AuditPage
        from .ceremonies_page import CeremoniesPage
        from .certificates_page import CertificatesPage
        from .dashboard import DashboardPage
        from .distribution_page import DistributionPage
        from .exchanges_page import ExchangesPage
        from .expiry_page import ExpiryPage
        from .inventory import KeysPage

        pages: list[tuple[str, QWidget, str]] = [
            ("dashboard", DashboardPage(self.state, self), "&Dashboard"),
            ("keys", KeysPage(self.state, self), "&Keys"),
            ("ceremonies", CeremoniesPage(self.state, self), "&Ceremonies"),
            # Alt+X: Alt+E is taken on the Keys, Audit and Administration pages and Alt+C
            # twice already (the Ceremonies tab and the session panel's Action field).
            ("exchanges", ExchangesPage(self.state, self), "E&xchanges"),
            ("certificates", CertificatesPage(self.state, self), "Ce&rtificates"),
            # Alt+I: Alt+T is the session panel's Template field, always in view.
            ("distribution", DistributionPage(self.state, self), "D&istribution"),
            # Alt+A: Alt+D and Alt+U are the Dashboard and Audit tabs.
            ("expiry", ExpiryPage(self.state, self), "Due d&ates"),
            ("admin", AdminPage(self.state, self), "Ad&ministration"),
            ("audit", AuditPage(self.state, self), "A&udit"),
        ]
        for name, page, title in pages:
            self._pages[name] = page
            self.tabs.addTab(page, title)
        certificates = self._pages["certificates"]
        if isinstance(certificates, CertificatesPage):
            self._certificate_tools(certificates)
        dashboard = self._pages["dashboard"]
        if isinstance(dashboard, DashboardPage):  # its "Task list…" opens the due dates
            dashboard.due_dates_requested.connect(
                lambda: self.tabs.setCurrentWidget(self._pages["expiry"])
            )

    def _certificate_tools(self, page: CertificatesPage) -> None:
        """The key pair workflows beyond requests and imports, as menus on the
        Certificates page; each wizard's module is loaded on first use."""

        def opener(module: str, entry: str) -> Callable[[], object]:
            def run() -> object:
                return getattr(importlib.import_module(module), entry)(self.state, self)

            return run

        tls, rkl, emv = (
            "workstation.gui.endpoint_wizards",
            "workstation.gui.rkl_wizards",
            "workstation.gui.emv_wizards",
        )
        page.add_menu(
            "TLS",
            "tlsTools",
            [
                (
                    "Discover TLS endpoints…",
                    "discoverEndpoints",
                    opener(tls, "open_discover_wizard"),
                ),
                ("Export key store…", "exportKeystore", opener(tls, "open_keystore_wizard")),
            ],
        )
        page.add_menu(
            "ATM remote key loading",
            "rklTools",
            [
                ("ATM vendor profile…", "rklVendor", opener(rkl, "open_vendor_profile")),
                ("Host key for a vendor…", "rklHostKey", opener(rkl, "open_host_key")),
                ("Bundle for the host HSM…", "rklBundle", opener(rkl, "open_bundle")),
            ],
        )
        page.add_menu(
            "EMV issuer keys",
            "emvTools",
            [
                ("Issuer keys for BINs…", "emvIssuerKeys", opener(emv, "open_issuer_keys")),
                ("Request issuer certificate…", "emvRequest", opener(emv, "open_issuer_request")),
                (
                    "Import issuer certificate…",
                    "emvImport",
                    opener(emv, "open_import_certificate"),
                ),
            ],
        )

    def _page(self, name: str) -> QWidget:
        self._build_work_area()
        return self._pages[name]

    @property
    def lock_screen(self) -> Any:
        self._build_work_area()
        return self._lock_screen

    @property
    def dashboard(self) -> QWidget:
        return self._page("dashboard")

    @property
    def keys(self) -> QWidget:
        return self._page("keys")

    @property
    def ceremonies(self) -> QWidget:
        return self._page("ceremonies")

    @property
    def exchanges(self) -> QWidget:
        return self._page("exchanges")

    @property
    def certificates(self) -> QWidget:
        return self._page("certificates")

    @property
    def distribution(self) -> QWidget:
        return self._page("distribution")

    @property
    def expiry(self) -> QWidget:
        return self._page("expiry")

    @property
    def admin(self) -> QWidget:
        return self._page("admin")

    @property
    def audit(self) -> QWidget:
        return self._page("audit")

    def _build_menu(self) -> None:
        session = self.menuBar().addMenu("&Session")
        self.log_off_action = QAction("&Log off everyone", self)
        self.log_off_action.setShortcut(QKeySequence("Ctrl+L"))
        self.log_off_action.triggered.connect(self.log_off)
        session.addAction(self.log_off_action)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.quit_action.setVisible(not self.kiosk)  # a kiosk has nothing to quit to
        self.quit_action.setEnabled(not self.kiosk)
        session.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _about(self) -> None:
        if not self.state.started:
            return
        info = self.state.services.ctx.hsm.info()
        QMessageBox.about(
            self,
            "Key Custodian Workstation",
            "Key Custodian Workstation\n\nOpen key management for payment security teams.\n"
            f"HSM: {info.manufacturer} {info.model}, token {info.token_label!r}.",
        )

    # --- pages ---------------------------------------------------------------------------

    def _show(self, page: int) -> None:
        if page != LOGON:
            self._build_work_area()
        self.stack.setCurrentIndex(page)
        working = page == WORK
        self.session_dock.setVisible(working)
        if working:
            self.session_dock.raise_()
        self.menuBar().setEnabled(page != LOCKED)
        self.log_off_action.setEnabled(working)
        if page == LOGON:
            self.logon.setFocus()

    def _session_changed(self) -> None:
        if self.state.is_locked:
            return
        self._show(WORK if self.state.members else LOGON)

    def _locked(self, reason: str) -> None:
        # Nothing that was on screen stays visible: the work area is replaced at once and
        # open dialogs of the work area are closed.
        for widget in self.findChildren(QWidget):
            if widget.isWindow() and widget is not self and widget.isVisible():
                widget.close()
        if self.state.members:
            self._show(LOCKED)
        else:
            self.state.close_session()
            self._show(LOGON)

    def _unlocked(self) -> None:
        self._show(WORK if self.state.members else LOGON)

    def log_off(self) -> None:
        self.state.close_session()
        self._show(LOGON)

    def _busy(self, busy: bool) -> None:
        self.status.setText("Working…" if busy else "")

    # --- geometry ------------------------------------------------------------------------

    def _restore(self) -> None:
        if self.kiosk:
            return  # full screen, whatever an earlier session saved
        geometry = self.state.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        window_state = self.state.settings.value("window/state")
        if isinstance(window_state, QByteArray):
            self.restoreState(window_state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_close:
            # Kiosk: Alt+F4 or any close request logs everyone off; the program stays.
            event.ignore()
            if self.state.session is not None:
                self.log_off()
            return
        if self.kiosk:
            super().closeEvent(event)
            return
        self.state.settings.setValue("window/geometry", self.saveGeometry())
        self.state.settings.setValue("window/state", self.saveState())
        self.state.settings.sync()
        super().closeEvent(event)
