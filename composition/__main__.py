from composition.cli import main

raise SystemExit(main())
