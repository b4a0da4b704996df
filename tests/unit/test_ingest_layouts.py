"""FER2013 in every layout people download it in, found in data/raw/ and read in place; and one
clear line for everything that is not a dataset (never synthetic data by surprise).

Every fixture is made here from a few random rows: no FER2013 row is ever written.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from facial_emotion.data.dataset import IngestError
from facial_emotion.data.discover import discover
from facial_emotion.data.fer_csv import read_fer_csv
from facial_emotion.data.ingest import ingest, summarise
from facial_emotion.labels import EMOTIONS, IMAGE_SIZE, USAGES

N = 21  # three of each class, seven of each usage


# --- fixtures made at test time -----------------------------------------------------------------


def rows(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random faces (each one distinct), every class, every usage in FER2013's order."""
    images = np.random.default_rng(seed).integers(0, 256, size=(n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n)
    labels = np.arange(n, dtype=np.int64) % len(EMOTIONS)
    usage = np.asarray([USAGES[i * len(USAGES) // n] for i in range(n)])
    return images, labels, usage


def pixels(image: np.ndarray) -> str:
    return " ".join(map(str, image.ravel().tolist()))


def fer_csv(data=None) -> bytes:
    images, labels, usage = data or rows()
    lines = ["emotion,pixels,Usage"] + [f"{label},{pixels(i)},{u}" for i, label, u in zip(images, labels, usage)]
    return ("\n".join(lines) + "\n").encode()


def icml_csv(data=None) -> bytes:
    """icml_face_data.csv: 'emotion, Usage, pixels' (spaces after the commas, another order)."""
    images, labels, usage = data or rows()
    lines = ["emotion, Usage, pixels"] + [f"{label},{u},{pixels(i)}" for i, label, u in zip(images, labels, usage)]
    return ("\n".join(lines) + "\n").encode()


def kaggle_train_csv(data=None) -> bytes:
    """Kaggle's train.csv: 'emotion,pixels', pixels quoted, the Training rows only."""
    images, labels, usage = data or rows()
    keep = usage == "Training"
    lines = ["emotion,pixels"] + [f'{label},"{pixels(i)}"' for i, label in zip(images[keep], labels[keep])]
    return ("\n".join(lines) + "\n").encode()


def kaggle_test_csv(data=None) -> bytes:
    images, _, _ = data or rows()
    return ("\n".join(["pixels"] + [f'"{pixels(i)}"' for i in images]) + "\n").encode()


def png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def image_tree(data=None) -> dict[str, bytes]:
    """Kaggle's image-folder layout of the rows: train/<emotion>/<n>.png, test/<emotion>/<n>.png."""
    images, labels, usage = data or rows()
    folder = {"anger": "angry", "disgust": "disgusted", "fear": "fearful", "happiness": "happy",
              "sadness": "sad", "surprise": "surprised", "neutral": "neutral"}
    return {f"{'train' if u == 'Training' else 'test'}/{folder[EMOTIONS[label]]}/im{k:03d}.png": png(i)
            for k, (i, label, u) in enumerate(zip(images, labels, usage))}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def raw(tmp_path) -> Path:
    """data/raw/ as it is in git: README.md and .gitkeep."""
    root = tmp_path / "data" / "raw"
    root.mkdir(parents=True)
    (root / "README.md").write_text("# put FER2013 here\n")
    (root / ".gitkeep").write_text("")
    return root


def read(raw_dir: Path, source: str = "auto", on_bad_row: str = "error"):
    result = ingest(raw_dir, source, on_bad_row, 70, 0)
    return result, summarise(result, 1.0)


def assert_rows(dataset, data=None, usages=USAGES) -> None:
    images, labels, usage = data or rows()
    keep = np.isin(usage, usages)
    assert np.array_equal(dataset.images, images[keep])
    assert np.array_equal(dataset.labels, labels[keep])
    assert dataset.usage.tolist() == usage[keep].tolist()


def passed(summary: dict) -> dict[str, str]:
    return {item["path"]: item["reason"] for item in summary["passed_over"]}


def one_line_error(raw_dir: Path, source: str = "auto") -> str:
    with pytest.raises(IngestError) as info:
        ingest(raw_dir, source, "error", 70, 0)
    message = str(info.value)
    assert "\n" not in message
    return message


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- Kaggle's tarball and the challenge's other CSVs ----------------------------------------------


def test_kaggle_tarball_as_downloaded_is_read_in_place(raw) -> None:
    tarball = write_tar(raw / "fer2013.tar.gz", {"fer2013/fer2013.csv": fer_csv(), "fer2013/README": b"readme\n",
                                                 "fer2013/fer2013.bib": b"@article{}\n"})
    before = sorted(p.name for p in raw.iterdir())
    result, summary = read(raw)
    assert result.source == "csv" and not result.dataset.is_synthetic
    assert_rows(result.dataset)
    assert summary["input"]["path"] == str(tarball) and summary["input"]["member"] == "fer2013/fer2013.csv"
    assert summary["input"]["archive"] == "tar"
    assert summary["sha256"] == sha256(tarball), "an archive is hashed as the file it is"
    assert set(passed(summary)) == {f"{tarball}:fer2013/README", f"{tarball}:fer2013/fer2013.bib"}
    assert sorted(p.name for p in raw.iterdir()) == before, "nothing may be extracted into data/raw/"


def test_tarball_extracted_one_folder_down(raw) -> None:
    write_tree(raw, {"fer2013/fer2013.csv": fer_csv(), "fer2013/README": b"readme\n"})
    result, summary = read(raw)
    assert_rows(result.dataset)
    assert summary["input"]["path"] == str(raw / "fer2013" / "fer2013.csv") and summary["input"]["member"] is None
    assert summary["sha256"] == hashlib.sha256(fer_csv()).hexdigest()
    assert "not a FER2013 file" in passed(summary)[str(raw / "fer2013" / "README")]


@pytest.mark.parametrize("name, writer", [
    ("fer2013.tgz", lambda p, f: write_tar(p, f, "w:gz")),
    ("fer2013.tar", lambda p, f: write_tar(p, f, "w")),
    ("fer2013.tar.bz2", lambda p, f: write_tar(p, f, "w:bz2")),
    ("fer2013.zip", write_zip),
])
@pytest.mark.parametrize("member", ["fer2013.csv", "fer2013/fer2013.csv", "fer2013.csv.gz"])
def test_csv_in_any_archive_at_its_top_or_one_folder_down(raw, name, writer, member) -> None:
    content = gzip.compress(fer_csv()) if member.endswith(".gz") else fer_csv()
    archive = writer(raw / name, {member: content})
    result, summary = read(raw)
    assert_rows(result.dataset)
    assert summary["input"]["member"] == member and summary["sha256"] == sha256(archive)


def test_a_tar_gz_that_the_browser_already_gunzipped_still_opens(raw) -> None:
    write_tar(raw / "fer2013.tar.gz", {"fer2013/fer2013.csv": fer_csv()}, mode="w")  # plain tar, .gz name
    assert_rows(read(raw)[0].dataset)


def test_icml_face_data_csv_with_spaces_and_another_column_order(raw) -> None:
    (raw / "icml_face_data.csv").write_bytes(icml_csv())
    result, summary = read(raw)
    assert_rows(result.dataset)
    assert summary["input"]["layout"] == "columns" and "emotion, Usage, pixels" in summary["input"]["description"]
    assert summary["usable_usages"] == list(USAGES)


def test_icml_layout_keeps_line_numbers_in_errors(raw) -> None:
    lines = icml_csv().split(b"\n")
    lines[4] = b"9," + lines[4].split(b",", 1)[1]  # line 5: emotion 9
    (raw / "icml_face_data.csv").write_bytes(b"\n".join(lines))
    message = one_line_error(raw)
    assert message.startswith(f"{raw / 'icml_face_data.csv'} line 5: field 'emotion'")


def test_kaggle_train_csv_is_training_rows_only_and_says_so(raw) -> None:
    (raw / "train.csv").write_bytes(kaggle_train_csv())
    result, summary = read(raw)
    assert_rows(result.dataset, usages=("Training",))
    assert summary["usable_usages"] == ["Training"]
    assert summary["input"]["layout"] == "training_only"
    assert any("Training rows only" in note and "split.strategy: study1" in note for note in summary["notes"])


def test_kaggle_test_csv_alone_has_no_labels_and_is_an_error(raw) -> None:
    (raw / "test.csv").write_bytes(kaggle_test_csv())
    message = one_line_error(raw)
    assert f"{raw / 'test.csv'} (no emotion column" in message and "cannot be used" in message
    assert "Understood: fer2013.csv" in message


def test_kaggle_competition_download_reads_the_complete_csv_and_names_the_rest(raw) -> None:
    """The competition's zip, unpacked: every file of it at once."""
    (raw / "icml_face_data.csv").write_bytes(icml_csv())
    (raw / "train.csv").write_bytes(kaggle_train_csv())
    (raw / "test.csv").write_bytes(kaggle_test_csv())
    (raw / "example_submission.csv").write_bytes(b"Id,Emotion\n1,0\n")
    write_tar(raw / "fer2013.tar.gz", {"fer2013/fer2013.csv": fer_csv()})
    result, summary = read(raw)
    assert_rows(result.dataset)
    assert summary["input"]["path"] == str(raw / "icml_face_data.csv")
    reasons = passed(summary)
    assert "Training rows only" in reasons[str(raw / "train.csv")]
    assert "cannot be used" in reasons[str(raw / "test.csv")]
    assert "not FER2013" in reasons[str(raw / "example_submission.csv")]
    assert "another copy of FER2013" in reasons[f"{raw / 'fer2013.tar.gz'}:fer2013/fer2013.csv"]


def test_the_competition_zip_as_downloaded_is_read_from_its_icml_member(raw) -> None:
    """Kaggle's whole-competition download: one zip with every file of the challenge in it."""
    archive = write_zip(raw / "challenges-in-representation-learning-facial-expression-recognition-challenge.zip", {
        "example_submission.csv": b"Id,Emotion\n1,0\n", "icml_face_data.csv": icml_csv(),
        "train.csv": kaggle_train_csv(), "test.csv": kaggle_test_csv(),
        "fer2013.tar.gz": write_tar(raw.parent / "inner.tar.gz", {"fer2013/fer2013.csv": fer_csv()}).read_bytes()})
    result, summary = read(raw)
    assert_rows(result.dataset)
    assert summary["input"]["path"] == str(archive) and summary["input"]["member"] == "icml_face_data.csv"
    reasons = passed(summary)
    assert "an archive inside the archive" in reasons[f"{archive}:fer2013.tar.gz"]
    assert "Training rows only" in reasons[f"{archive}:train.csv"]
    assert "cannot be used" in reasons[f"{archive}:test.csv"]


def test_the_report_shows_the_archive_member_read() -> None:
    from facial_emotion.report.index import _data_facts

    facts = _data_facts({"input": {"path": "data/raw/fer2013.tar.gz", "member": "fer2013/fer2013.csv"}}, {})
    assert facts["input"] == "data/raw/fer2013.tar.gz:fer2013/fer2013.csv"
    assert _data_facts({"input": {"path": "data/raw/fer2013.csv", "member": None}}, {})["input"] == \
        "data/raw/fer2013.csv"


def test_a_validation_folder_beside_train_and_test_is_named(raw) -> None:
    tree = image_tree()
    write_tree(raw, {**tree, "val/happy/x.png": next(iter(tree.values()))})
    reason = passed(read(raw)[1])[f"{raw / 'val'}/"]
    assert reason.startswith("a split folder other than train/ and test/: not read")


# --- the image-folder layout ----------------------------------------------------------------------


def test_image_folders_unzipped_into_their_own_folder(raw) -> None:
    write_tree(raw / "archive", image_tree())
    result, summary = read(raw)
    assert result.source == "folders"
    assert_folder_rows(result.dataset)
    assert summary["input"]["path"] == str(raw / "archive") and summary["input"]["member"] is None
    assert summary["usable_usages"] == ["Training", "PublicTest"]


def test_a_train_folder_alone_has_training_rows_only_and_says_so(raw) -> None:
    write_tree(raw, {k: v for k, v in image_tree().items() if k.startswith("train/")})
    result, summary = read(raw)
    assert summary["usable_usages"] == ["Training"] and set(result.dataset.usage) == {"Training"}


def assert_folder_rows(dataset) -> None:
    """The reader's order: train/ then test/, each by path; test/ is read as PublicTest."""
    images, labels, usage = rows()
    order = [int(name[-7:-4]) for name in sorted(image_tree(), key=lambda n: (not n.startswith("train/"), n))]
    assert np.array_equal(dataset.images, images[order])
    assert np.array_equal(dataset.labels, labels[order])
    assert dataset.usage.tolist() == ["Training" if usage[k] == "Training" else "PublicTest" for k in order]


@pytest.mark.parametrize("name, writer", [("archive.zip", write_zip), ("archive.tar.gz", write_tar),
                                          ("archive.tgz", write_tar)])
@pytest.mark.parametrize("prefix", ["", "fer2013/"])
def test_image_folders_in_an_archive_read_in_place(raw, name, writer, prefix) -> None:
    archive = writer(raw / name, {prefix + k: v for k, v in image_tree().items()})
    result, summary = read(raw)
    assert result.source == "folders"
    assert_folder_rows(result.dataset)
    assert summary["input"]["archive"] in ("zip", "tar") and summary["input"]["member"] == prefix.rstrip("/")
    assert summary["sha256"] == sha256(archive)
    assert sorted(p.name for p in raw.iterdir()) == sorted([".gitkeep", "README.md", name])


def test_image_folders_on_disk_and_in_a_zip_give_the_same_rows(raw, tmp_path) -> None:
    write_tree(raw, image_tree())
    on_disk = read(raw)[0].dataset
    other = tmp_path / "zipped"
    other.mkdir()
    write_zip(other / "archive.zip", image_tree())
    zipped = read(other)[0].dataset
    for field in ("images", "labels", "usage"):
        assert np.array_equal(getattr(on_disk, field), getattr(zipped, field)), field
    assert_folder_rows(on_disk)


def test_junk_in_image_folders_is_skipped_and_counted(raw) -> None:
    tree = image_tree()
    junk = {"train/happy/Thumbs.db": b"\0\1", "train/happy/desktop.ini": b"[.ShellClassInfo]\n",
            "test/sad/.DS_Store": b"\0\0\0\1Bud1", "train/Thumbs.db": b"\0", "train/angry/notes.txt": b"hi\n",
            "test/neutral/labels.csv": b"a,b\n", "train/fearful/._im.png": b"\0\5\26\7"}
    write_tree(raw, {**tree, **junk})
    result, summary = read(raw)
    assert_folder_rows(result.dataset)
    assert summary["skipped_files"] == {"not_an_image": 2, "system_file": 5}
    assert summary["skipped_files_total"] == 7 and not summary["rejected"]
    assert any("skipped, not images" in note for note in summary["notes"])


def test_junk_in_a_zipped_image_layout_is_skipped_and_counted(raw) -> None:
    junk = {"__MACOSX/train/happy/._im000.png": b"\0", "train/happy/Thumbs.db": b"\0", "train/readme.md": b"x"}
    write_zip(raw / "archive.zip", {**image_tree(), **junk})
    result, summary = read(raw)
    assert_folder_rows(result.dataset)
    assert summary["skipped_files"] == {"not_an_image": 1, "system_file": 1}
    assert passed(summary) == {f"{raw / 'archive.zip'}:__MACOSX": "operating-system folder"}


def test_dangling_links_and_linked_folders_are_counted(raw, tmp_path) -> None:
    tree = image_tree()
    write_tree(raw, {k: v for k, v in tree.items() if not k.startswith("train/sad/")})
    elsewhere = write_tree(tmp_path / "elsewhere", {k.split("/", 1)[1]: v for k, v in tree.items()
                                                    if k.startswith("train/sad/")})
    os.symlink(elsewhere / "sad", raw / "train" / "sad")
    os.symlink(tmp_path / "missing.png", raw / "train" / "happy" / "gone.png")
    os.symlink(raw / "train", raw / "train" / "angry" / "loop")
    result, summary = read(raw)
    assert_folder_rows(result.dataset)
    assert summary["skipped_files"] == {"dangling_link": 1, "link_loop": 1}
    assert summary["linked_folders_followed"] == [f"{raw / 'train' / 'sad'} -> {elsewhere / 'sad'}"]


def test_a_dangling_link_at_the_top_is_passed_over_by_name(raw) -> None:
    (raw / "fer2013.csv").write_bytes(fer_csv())
    os.symlink(raw / "nowhere.csv.gz", raw / "old.csv.gz")
    summary = read(raw)[1]
    assert passed(summary) == {str(raw / "old.csv.gz"): "a link whose target is missing"}


def test_many_loose_files_are_one_passed_over_entry_with_their_count(raw) -> None:
    (raw / "fer2013.csv").write_bytes(fer_csv())
    write_tree(raw, {f"face{k:02d}.png": b"x" for k in range(60)})
    (entry,) = read(raw)[1]["passed_over"]
    assert entry["path"] == f"{raw}/ (60 entries: face00.png, face01.png, face02.png, ...)"
    assert entry["reason"].startswith("not a FER2013 file")


# --- which one wins, and when synthetic data is allowed ------------------------------------------


def test_csv_wins_over_folders_and_the_log_says_they_were_ignored(raw, caplog) -> None:
    write_tree(raw, image_tree())
    (raw / "fer2013.csv").write_bytes(fer_csv())
    with caplog.at_level(logging.INFO):
        result, summary = read(raw)
    assert result.source == "csv"
    assert_rows(result.dataset)
    reason = passed(summary)[f"{raw / 'train'}/, {raw / 'test'}/"]
    assert "image folders ignored" in reason and str(raw / "fer2013.csv") in reason
    assert "image folders ignored" in caplog.text


def test_data_source_folders_reads_folders_and_passes_the_csv_over(raw) -> None:
    write_tree(raw, image_tree())
    (raw / "fer2013.csv").write_bytes(fer_csv())
    result, summary = read(raw, "folders")
    assert result.source == "folders"
    assert "data.source is 'folders'" in passed(summary)[str(raw / "fer2013.csv")]


def test_data_source_csv_without_a_csv_lists_the_folders(raw) -> None:
    write_tree(raw, image_tree())
    message = one_line_error(raw, "csv")
    assert "data.source is 'csv' but there is no FER2013 CSV here" in message and "image folders" in message


def test_synthetic_only_when_data_raw_holds_only_its_own_files(raw) -> None:
    (raw / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # the operating system's, not the user's
    result, summary = read(raw)
    assert result.source == "synthetic" and result.dataset.is_synthetic
    assert passed(summary) == {str(raw / ".DS_Store"): "operating-system file"}


def test_data_source_synthetic_names_the_data_it_leaves_unread(raw, caplog) -> None:
    (raw / "fer2013.csv").write_bytes(fer_csv())
    with caplog.at_level(logging.INFO):
        result, summary = read(raw, "synthetic")
    assert result.source == "synthetic"
    assert "data.source is 'synthetic'" in passed(summary)[str(raw / "fer2013.csv")]
    assert "data.source is 'synthetic'" in caplog.text


@pytest.mark.parametrize("make, listed", [
    (lambda raw: (raw / "notes.txt").write_text("my notes\n"), "notes.txt (not a FER2013 file"),
    (lambda raw: (raw / "labels.csv").write_bytes(b"id,name\n1,x\n"),
     "labels.csv (a CSV that is not FER2013: header 'id,name'"),
    (lambda raw: (raw / "fer2013").mkdir(), "fer2013/ (an empty folder)"),
    (lambda raw: write_tree(raw, {"faces/a.png": png(rows()[0][0])}),
     "faces/ (a folder with no FER2013 in it (it holds a.png))"),
    (lambda raw: write_zip(raw / "photos.zip", {"a.png": b"x"}), "photos.zip (a zip archive with no FER2013 in it"),
    (lambda raw: (raw / "fer2013.7z").write_bytes(b"7z\xbc\xaf"),
     "fer2013.7z (7z and rar archives can't be read in place"),
    (lambda raw: (raw / "fer2013.csv.dvc").write_text("outs:\n- path: fer2013.csv\n"), "run `dvc pull`"),
])
def test_anything_else_is_one_line_listing_what_was_found_and_what_is_understood(raw, make, listed) -> None:
    make(raw)
    message = one_line_error(raw)
    assert message.startswith(f"{raw}: no FER2013 here. Found: ")
    assert listed in message
    assert "Understood: fer2013.csv or fer2013.csv.gz, icml_face_data.csv" in message and "archive.zip" in message


def test_missing_raw_dir_is_an_error_not_synthetic(tmp_path) -> None:
    with pytest.raises(IngestError, match="folder not found"):
        ingest(tmp_path / "data" / "rwa", "auto", "error", 70, 0)


# --- a file meant as FER2013 that can't be read as it is: an error, whatever else is there --------


def test_a_gz_that_is_plain_text_says_rename_it_not_download_again(raw) -> None:
    (raw / "fer2013.csv.gz").write_bytes(fer_csv())
    write_tree(raw, image_tree())  # and no quiet fall back to these
    message = one_line_error(raw)
    assert message == (f"{raw / 'fer2013.csv.gz'}: not gzip: it is plain text (already decompressed?): "
                       f"rename it to fer2013.csv")
    with pytest.raises(IngestError, match="not gzip: it is plain text") as info:
        read_fer_csv(raw / "fer2013.csv.gz")
    assert "download it again" not in str(info.value)


def test_a_broken_csv_is_only_passed_over_when_data_source_is_folders(raw) -> None:
    (raw / "fer2013.csv.gz").write_bytes(fer_csv())
    write_tree(raw, image_tree())
    result, summary = read(raw, "folders")
    assert result.source == "folders"
    assert passed(summary)[str(raw / "fer2013.csv.gz")].startswith("not gzip: it is plain text")


def test_a_gz_that_is_a_zip_says_so(raw) -> None:
    write_zip(raw / "fer2013.csv.gz", {"fer2013.csv": fer_csv()})
    assert one_line_error(raw).endswith("fer2013.csv.gz: not gzip: it is a zip archive: rename it to fer2013.csv.zip")


@pytest.mark.parametrize("name", ["fer2013.csv", "icml_face_data.csv", "train.csv"])
def test_a_known_csv_with_another_header_is_an_error_even_beside_folders(raw, name) -> None:
    (raw / name).write_bytes(b"emotion;pixels;Usage\n0;1 2 3;Training\n")  # re-saved with semicolons
    write_tree(raw, image_tree())
    message = one_line_error(raw)
    assert message.startswith(f"{raw / name}: header 'emotion;pixels;Usage' is none of FER2013's")


def test_kaggle_train_csv_with_a_bad_row_names_its_line_or_skips_it(raw) -> None:
    lines = kaggle_train_csv().split(b"\n")
    lines[3] = lines[3] + b",Training"
    (raw / "train.csv").write_bytes(b"\n".join(lines))
    assert one_line_error(raw) == f"{raw / 'train.csv'} line 4: expected 2 fields (emotion,pixels), found 3"
    result, summary = read(raw, on_bad_row="skip")
    assert summary["rejected"] == {"field_count": 1} and len(result.dataset) == 6


def test_a_csv_that_is_gzip_says_rename_it(raw) -> None:
    (raw / "fer2013.csv").write_bytes(gzip.compress(fer_csv()))
    assert one_line_error(raw).endswith("fer2013.csv: gzip-compressed, though named .csv: rename it to fer2013.csv.gz")


@pytest.mark.parametrize("codec, found", [("utf-16", "UTF-16 little-endian (byte-order mark FF FE)"),
                                          ("utf-16-be-bom", "UTF-16 big-endian (byte-order mark FE FF)"),
                                          ("utf-16-le", "UTF-16 little-endian without a byte-order mark"),
                                          ("utf-32", "UTF-32 little-endian")])
def test_a_utf16_csv_says_which_encoding_it_found(raw, codec, found) -> None:
    text = fer_csv(rows(3)).decode()
    data = (b"\xfe\xff" + text.encode("utf-16-be")) if codec == "utf-16-be-bom" else text.encode(codec)
    (raw / "fer2013.csv").write_bytes(data)
    message = one_line_error(raw)
    assert message.startswith(f"{raw / 'fer2013.csv'}: the text is {found}")


@pytest.mark.parametrize("header, found", [
    ("émotion,pixels,Usage".encode("latin-1"),
     "byte 0xE9 at column 1 is not UTF-8 either (an 8-bit encoding such as Latin-1"),
    ("émotion,pixels,Usage".encode(), "UTF-8 text with non-ASCII characters from column 1"),
])
def test_a_non_ascii_header_without_bom_says_which_encoding_it_found(raw, header, found) -> None:
    (raw / "fer2013.csv").write_bytes(header + b"\n" + fer_csv(rows(3)).split(b"\n", 1)[1])
    message = one_line_error(raw)
    assert message.startswith(f"{raw / 'fer2013.csv'}: the header is not ASCII") and found in message


def test_a_utf16_csv_in_an_archive_is_named_with_its_member(raw) -> None:
    write_zip(raw / "fer2013.zip", {"fer2013/fer2013.csv": fer_csv(rows(3)).decode().encode("utf-16")})
    assert one_line_error(raw).startswith(f"{raw / 'fer2013.zip'}:fer2013/fer2013.csv: the text is UTF-16")


def test_a_truncated_tarball_is_an_error_even_beside_a_good_csv(raw) -> None:
    tarball = write_tar(raw / "fer2013.tar.gz", {"fer2013/fer2013.csv": fer_csv(rows(200))})
    tarball.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    (raw / "fer2013.csv").write_bytes(fer_csv())
    message = one_line_error(raw)
    assert message.startswith(f"{tarball}: can't be read as a tar archive") and "download it again" in message


def test_a_damaged_zip_is_an_error(raw) -> None:
    (raw / "archive.zip").write_bytes(b"PK\x03\x04 not really a zip")
    assert one_line_error(raw).startswith(f"{raw / 'archive.zip'}: can't be read as a zip archive")


def test_a_password_zip_says_repack_it(raw) -> None:
    data = bytearray(write_zip(raw / "fer2013.zip", {"fer2013.csv": fer_csv()}).read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        start = data.index(signature)
        data[start + flags_at] |= 0x1  # marked encrypted, as a password-protected zip's members are
    (raw / "fer2013.zip").write_bytes(bytes(data))
    message = one_line_error(raw)
    assert message.startswith(f"{raw / 'fer2013.zip'}: can't be read as a zip archive") and "no password" in message


def test_upper_case_names_are_understood(raw) -> None:
    (raw / "FER2013.CSV.GZ").write_bytes(gzip.compress(fer_csv()))
    assert_rows(read(raw)[0].dataset)


def test_discover_describes_without_reading_the_rows(raw) -> None:
    write_tar(raw / "fer2013.tar.gz", {"fer2013/fer2013.csv": fer_csv()})
    found = discover(raw)
    assert found.kind == "csv" and found.chosen.member == "fer2013/fer2013.csv" and found.chosen.archive == "tar"
    assert found.chosen.describe() == ("FER2013 CSV (emotion,pixels,Usage) in the tar archive "
                                       f"{raw / 'fer2013.tar.gz'}, member fer2013/fer2013.csv (read in place)")
