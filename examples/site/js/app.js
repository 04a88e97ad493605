document.title += " (loaded at " + new Date().toISOString() + ")";
