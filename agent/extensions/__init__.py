"""What users and repositories add to ama as files: custom slash commands (`commands`),
skills (`skills`), agent definitions (`agents`), and the places they are found (`places`)."""
