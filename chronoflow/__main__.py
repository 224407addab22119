from chronoflow.cli import main

main()
