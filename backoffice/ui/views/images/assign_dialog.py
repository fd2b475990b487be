"""Which variants show an image: all variants with an option value ("all Red variants"), or a hand-picked
list. The dialog only collects the choice; the view calls the service."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.images import GalleryImage, VariantChoice


class AssignVariantsDialog(QDialog):
    def __init__(self, image: GalleryImage, variants: Sequence[VariantChoice], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Show {name} for…").format(name=image.filename))
        self.resize(460, 480)
        self.variants = list(variants)
        values: dict[str, list[str]] = {}
        for v in self.variants:
            for code, value in v.options.items():
                if value not in values.setdefault(code, []):
                    values[code].append(value)
        self.values = values

        self.by_option = QRadioButton(self.tr("Every variant with"))
        self.by_hand = QRadioButton(self.tr("These variants"))
        group = QButtonGroup(self)
        group.addButton(self.by_option)
        group.addButton(self.by_hand)
        self.attribute = QComboBox()
        for code in values:
            self.attribute.addItem(code, code)
        self.value = QComboBox()
        self.attribute.currentIndexChanged.connect(self._fill_values)
        self._fill_values()
        self.list = QListWidget()
        chosen = set(image.variant_ids)
        for v in self.variants:
            options = ", ".join(f"{k} {val}" for k, val in v.options.items())
            item = QListWidgetItem(f"{v.sku}  ·  {options}" if options else v.sku)
            item.setData(Qt.ItemDataRole.UserRole, v.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if v.id in chosen else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        if values and not chosen:
            self.by_option.setChecked(True)
        else:
            self.by_hand.setChecked(True)
        self.by_option.setEnabled(bool(values))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        option_row = QHBoxLayout()
        option_row.addWidget(self.by_option)
        option_row.addWidget(self.attribute)
        option_row.addWidget(QLabel("="))
        option_row.addWidget(self.value, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(option_row)
        layout.addWidget(self.by_hand)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)

    def _fill_values(self) -> None:
        self.value.clear()
        for value in self.values.get(self.attribute.currentData() or "", []):
            self.value.addItem(value, value)

    def choice(self) -> tuple[str, str] | list[int]:
        """(attribute code, value) for "by option value", or the variant ids ticked."""
        if self.by_option.isChecked() and self.value.currentData():
            return self.attribute.currentData(), self.value.currentData()
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]
