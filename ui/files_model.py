"""The library panel's document list: a lazy table model (one row per file of the manifest, no
widget per row) that sorts in one Python pass and changes one row at a time during a job."""

from __future__ import annotations

import bisect
import os

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

COLUMNS = ("Name", "Status", "Pages", "Chunks", "Type", "Note")
KIND_NAMES = {"pdf": "PDF", "docx": "Word", "html": "Web page", "markdown": "Markdown", "text": "Text", "epub": "EPUB"}


class FilesModel(QAbstractTableModel):
    """One row per file of the library's manifest; no widget per row, so 10,000 files stay light."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list = []
        self._names: list[str] = []  # column 0, computed once
        self._row_of: dict[str, int] = {}
        self._indexing: str | None = None
        self._order: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)

    def set_records(self, records: list) -> None:
        self.beginResetModel()
        self._rows = list(records)
        self._names = [os.path.basename(r.path) for r in self._rows]
        self._sort_rows(*self._order)
        self.endResetModel()

    def update(self, path: str, rec) -> None:
        """One file's row changed (`rec`), appeared, or is gone (`rec` None): that row alone is
        updated, inserted at its sorted place or removed. The selection and the scroll position
        stay; reading the whole list again after each file of a large drop was quadratic."""
        row = self._row_of.get(path)
        if rec is None:
            if row is not None:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row], self._names[row]
                self._reindex()
                self.endRemoveRows()
        elif row is not None:
            self._rows[row] = rec
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        else:
            name = os.path.basename(rec.path)
            column, order = self._order
            keys = self._keys()
            key = keys.get(column, keys[0])
            descending = order == Qt.SortOrder.DescendingOrder
            at = bisect.bisect_right(_SortedKeys(self._rows, self._names, key, descending), key(rec, name))
            at = len(self._rows) - at if descending else at
            self.beginInsertRows(QModelIndex(), at, at)
            self._rows.insert(at, rec)
            self._names.insert(at, name)
            self._reindex()
            self.endInsertRows()

    def _reindex(self) -> None:
        self._row_of = {r.path: i for i, r in enumerate(self._rows)}

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """One Python sort by a key per row: a proxy's sort asks data() twice per comparison,
        n·log n calls across the Python boundary, seconds for a library of thousands of files."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        moved = self._sort_rows(column, order)
        self.changePersistentIndexList(old, [self.index(moved[i.row()], i.column()) for i in old])
        self.layoutChanged.emit()

    def _keys(self) -> dict:
        """Sort key per column, of a row's record and name."""
        return {
            0: lambda rec, name: name.casefold(),
            1: lambda rec, name: self.status(rec),
            2: lambda rec, name: rec.pages,
            3: lambda rec, name: rec.chunks,
            4: lambda rec, name: rec.kind or "",
            5: lambda rec, name: rec.error or "",
        }

    def _sort_rows(self, column: int, order) -> dict[int, int]:
        self._order = (column, order)
        keys = self._keys()
        key = keys.get(column, keys[0])
        perm = sorted(range(len(self._rows)), key=lambda i: key(self._rows[i], self._names[i]),
                      reverse=order == Qt.SortOrder.DescendingOrder)
        self._rows = [self._rows[i] for i in perm]
        self._names = [self._names[i] for i in perm]
        self._reindex()
        return {old: new for new, old in enumerate(perm)}

    def set_indexing(self, path: str | None) -> None:
        """Marks the file being indexed: its row and the previous one are repainted, no other."""
        before, self._indexing = self._indexing, path
        for p in {before, path} - {None}:
            row = self._row_of.get(p)
            if row is not None:
                self.dataChanged.emit(self.index(row, 1), self.index(row, 1))

    def record(self, row: int):
        return self._rows[row]

    def row(self, path: str) -> int | None:
        return self._row_of.get(path)

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def status(self, rec) -> str:
        if rec.path == self._indexing:
            return "indexing"
        if rec.status == "failed":
            return "failed"
        return "indexed" if not rec.error else "indexed (old version)"

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        rec = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return self._names[index.row()]
            if col == 1:
                return self.status(rec)
            if col == 2:
                return rec.pages if rec.kind in ("pdf", "epub", "docx") and rec.pages else ""
            if col == 3:
                return rec.chunks or ""
            if col == 4:
                return KIND_NAMES.get(rec.kind or "", rec.kind or "")
            if col == 5:
                return rec.error or ("; ".join(rec.warnings) if rec.warnings else "")
        elif role == Qt.ItemDataRole.ToolTipRole:
            tip = rec.path
            if rec.error:
                tip += f"\n{'Failed' if rec.status == 'failed' else 'Newer version failed'}: {rec.error}"
            return tip
        elif role == Qt.ItemDataRole.ForegroundRole and col == 1:
            status = self.status(rec)
            if status == "failed":
                return QColor("#c62828")
            if status == "indexing":
                return QColor("#1565c0")
        elif role == Qt.ItemDataRole.UserRole:
            return rec.path
        elif role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class _SortedKeys:
    """The model's sort keys as an ascending sequence, for bisect (computed on access: log n of them)."""

    def __init__(self, rows: list, names: list[str], key, descending: bool):
        self.rows, self.names, self.key, self.descending = rows, names, key, descending

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        j = len(self.rows) - 1 - i if self.descending else i
        return self.key(self.rows[j], self.names[j])


class FilterProxy(QSortFilterProxyModel):
    """Filters by name; sorting is left to the source model (FilesModel.sort)."""

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)
