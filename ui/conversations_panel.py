"""The list of saved conversations: reopen, rename, delete, start a new one."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QMenu, QPushButton, QVBoxLayout, QWidget


class ConversationsPanel(QWidget):
    open_requested = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int)
    delete_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        new = QPushButton("New conversation")
        new.setToolTip("Ctrl+N")
        new.clicked.connect(self.new_requested.emit)
        row.addWidget(new)
        row.addStretch(1)
        layout.addLayout(row)
        self.list = QListWidget()
        self.list.itemActivated.connect(lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        layout.addWidget(self.list, 1)

    def set_conversations(self, conversations, current: int | None) -> None:
        self.list.clear()
        for conv in conversations:
            when = time.strftime("%d %b %H:%M", time.localtime(conv.updated))
            item = QListWidgetItem(f"{conv.title}\n{when} · {conv.turns} question{'s' * (conv.turns != 1)}")
            item.setData(Qt.ItemDataRole.UserRole, conv.id)
            item.setToolTip(conv.title)
            self.list.addItem(item)
            if conv.id == current:
                self.list.setCurrentItem(item)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        cid = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(cid))
        menu.addAction("Rename…", lambda: self.rename_requested.emit(cid))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete_requested.emit(cid))
        menu.exec(self.list.viewport().mapToGlobal(pos))
