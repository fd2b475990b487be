"""The image folder of a connection profile, set in the profiles dialog and used by the Images view."""

from __future__ import annotations

from backoffice.config import ProfileStore
from backoffice.secrets import SecretStore
from backoffice.services.image_store import store_root_for
from backoffice.ui.dialogs.profiles import ProfilesDialog


def test_profiles_dialog_saves_and_shows_the_image_folder(qtbot, tasks, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ProfileStore()
    dialog = ProfilesDialog(store, SecretStore(), tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.new_profile()
    dialog.name.setText("Shop HQ")
    dialog.sqlite_radio.setChecked(True)
    dialog.path.setText(str(tmp_path / "shop.sqlite"))
    dialog.image_store.setText(f"  {tmp_path / 'nas' / 'images'}  ")
    profile = dialog.save()
    assert profile is not None and profile.image_store == str(tmp_path / "nas" / "images")
    assert store_root_for("Shop HQ") == tmp_path / "nas" / "images"

    dialog.new_profile()
    assert dialog.image_store.text() == ""
    dialog._fill(store.get("Shop HQ"), is_default=True)
    assert dialog.image_store.text() == str(tmp_path / "nas" / "images")
