"""The file tools: read, write, edit, patch, list and search files in the workspace.

Every path goes through `tools.paths.resolve` and every open through `fsops`, so no
tool reads or writes outside the workspace, symlinks included.
"""
from __future__ import annotations

from tools.files.edit import EditFile
from tools.files.patch_tool import ApplyPatch
from tools.files.read import ReadFile
from tools.files.search import Grep, ListFiles
from tools.files.write import WriteFile

FILE_TOOLS = (ReadFile(), WriteFile(), EditFile(), ApplyPatch(), ListFiles(), Grep())

__all__ = ["FILE_TOOLS", "ReadFile", "WriteFile", "EditFile", "ApplyPatch", "ListFiles",
           "Grep"]
