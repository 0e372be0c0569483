"""The files an engine reads for a table: a path, a glob or a folder (Hadoop's hidden files left
out), with the partition folders below the folder or glob given."""

from __future__ import annotations

import pytest

from analytics.engines.sources import Source, Unreadable, table_source


def _touch(root, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_a_folder_gives_its_data_files_below_it_and_leaves_hidden_ones_out(tmp_path):
    _touch(tmp_path, "t/part-1.parquet", "t/part-0.parquet", "t/_SUCCESS", "t/._SUCCESS.crc", "t/.part-0.parquet.crc",
           "t/_temporary/0/part-9.parquet", "t/.hidden/part-8.parquet")
    assert table_source(str(tmp_path / "t")) == Source([str(tmp_path / "t" / f"part-{i}.parquet") for i in (0, 1)])


def test_a_glob_leaves_hidden_files_out_but_a_file_named_on_its_own_is_read(tmp_path):
    _touch(tmp_path, "t/part-0.csv", "t/_part-1.csv", "t/_tmp/part-2.csv", "data[1].csv")
    assert table_source(str(tmp_path / "t" / "*")).files == [str(tmp_path / "t" / "part-0.csv")]
    assert table_source(str(tmp_path / "t" / "_part-1.csv")).files == [str(tmp_path / "t" / "_part-1.csv")]
    assert table_source(str(tmp_path / "data[1].csv")).files == [str(tmp_path / "data[1].csv")]  # not a pattern


@pytest.mark.parametrize("given", ["t", "t/*/*/*.parquet", "t/site=*/*/*.parquet"])
def test_partition_folders_below_the_folder_or_glob_given_are_keys(tmp_path, given):
    _touch(tmp_path, "t/site=A/year=2024/p.parquet", "t/site=B/year=2025/p.parquet")
    found = table_source(str(tmp_path / given))
    assert (found.base, found.keys) == (str(tmp_path / "t"), ("site", "year"))
    assert len(found.files) == 2


def test_folders_named_key_value_above_the_folder_given_are_no_keys(tmp_path):
    _touch(tmp_path, "export=2024/t/p.parquet", "site=A/p.parquet")
    assert table_source(str(tmp_path / "export=2024" / "t")).keys == ()
    assert table_source(str(tmp_path / "site=A" / "p.parquet")).keys == ()
    assert table_source(str(tmp_path / "site=A" / "*.parquet")).keys == ()


@pytest.mark.parametrize("files, given, says", [
    ([], "none_*.parquet", "there is no file at this path"),
    (["t/_SUCCESS"], "t", "the folder holds no data files"),
    (["t/site=A/p.parquet", "t/year=2024/p.parquet"], "t", "its partition folders (year=...) are not those of"),
    (["t/site=A/p.parquet", "t/p.parquet"], "t", "are not those of"),
    (["t/site=A/p.csv"], "t", "which are read for Parquet files only"),
])
def test_what_cannot_be_read_as_one_table_is_said(tmp_path, files, given, says):
    _touch(tmp_path, *files)
    with pytest.raises(Unreadable) as raised:
        table_source(str(tmp_path / given))
    assert says in raised.value.why
