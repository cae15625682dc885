"""The scratch workspace and the review of what a session changed.

    scratch.py       Workspace: the private copy of the user's repo that a session works
                     on, and its snapshots (a shadow git repo, refs/ama/*).
    changeset.py     ChangeSet: the diff from the user's tree at start to the scratch
                     tree; applying it as `--apply tree | commit | branch:NAME`.
    review.py        hunk-by-hunk review of a change set: split, decide, apply.
    hunks.py         the hunks of one text file, as pure functions.
    atomic_files.py  writing a set of files into a tree all together.
    git.py           git on the host, hardened (GitPython): every git command above
                     goes through `host_git`.

Nothing is re-exported here, so importing one module never drags in the others.
"""
