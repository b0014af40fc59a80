"""The Textual app: reads engine snapshots, sends commands; never calls KVM itself."""
