"""The app's pages, one module each: each module's ``page_*`` function draws its page."""
