"""What users and repositories add to ama as files: custom slash commands (`commands`),
skills (`skills`), and the places both are found (`places`)."""
