"""The Run tab: start, pause, stop and abort a recording, with live traces and health."""
