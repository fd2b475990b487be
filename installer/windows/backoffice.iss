; Inno Setup script of the Backoffice installer for Windows (Inno Setup 6.3 or newer).
;
; Installs for the current user only, without administrator rights, into
; %LOCALAPPDATA%\Programs\Backoffice, with Start-menu entries and an uninstaller (Settings > Apps).
; The user's data (%LOCALAPPDATA%\backoffice: the embedded database, images) is never touched by an
; update or by uninstalling.
;
; Built by installer\windows\build.ps1, which first makes the one-folder bundle with PyInstaller
; (dist\backoffice) and then runs:
;
;   iscc /DAppVersion=0.1.0 /DSourceDir=..\..\dist\backoffice /O..\..\dist installer\windows\backoffice.iss
;
; AppVersion defaults to the version below, which must equal backoffice.__version__
; (tests/test_installer_files.py checks it); build.ps1 passes the installed package's version.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\backoffice"
#endif
#define AppName "Backoffice"
#define AppPublisher "Backoffice contributors"
#define AppURL "https://github.com/backoffice/backoffice"
; The GUI executable (no console window); backoffice.exe beside it is the command line.
#define AppExeName "backoffice-gui.exe"
#define CliExeName "backoffice.exe"

[Setup]
; AppId identifies the installation for updates and uninstalling: never change it.
AppId={{6A3D7F52-9C1E-4B8A-A5D2-3E1F0B7C4D91}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppPublisherURL={#AppURL}
AppSupportURL={#AppURL}
VersionInfoVersion={#AppVersion}
; Per-user, no administrator rights, no UAC prompt.
PrivilegesRequired=lowest
DefaultDirName={localappdata}\Programs\Backoffice
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
OutputDir=..\..\dist
OutputBaseFilename=backoffice-{#AppVersion}-windows-x64-setup
; Uninstaller: registered under the current user (Settings > Apps), with the program's icon.
Uninstallable=yes
CreateUninstallRegKey=yes
UninstallDisplayName={#AppName} {#AppVersion}
UninstallDisplayIcon={app}\{#AppExeName}
UninstallFilesDir={app}\uninstall
; An update closes a running Backoffice first, and restarts nothing behind the user's back.
CloseApplications=yes
RestartApplications=no
ChangesEnvironment=yes
#if FileExists(AddBackslash(SourcePath) + "backoffice.ico")
SetupIconFile=backoffice.ico
#endif
; Code signing: build.ps1 passes /DSignTool=... when a certificate is configured (see installer\README.md).
#ifdef SignTool
SignTool={#SignTool}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the backoffice command to PATH (for this user)"; GroupDescription: "Command line:"; Flags: unchecked

[InstallDelete]
; An update replaces the whole bundle: nothing of the previous version's libraries stays behind.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
; Start-menu entries (this user's Start menu: PrivilegesRequired=lowest).
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExeName}"; WorkingDir: "{app}"; Comment: "Catalog, inventory, purchasing and reports"
Name: "{group}\{#AppName} (demo store)"; Filename: "{app}\{#AppExeName}"; Parameters: "--demo"; WorkingDir: "{app}"; Comment: "Try Backoffice on a demo store"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; WorkingDir: "{app}"; Tasks: desktopicon

[Registry]
; The command line for this user: {app} appended to the user's PATH (removed again by the uninstaller).
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Files the program wrote into its own folder (Python byte-code caches); user data lives elsewhere.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

procedure RemoveFromPath(Dir: string);
var
  Paths: string;
  P: Integer;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then
    exit;
  P := Pos(';' + Uppercase(Dir), Uppercase(Paths));
  if P > 0 then
  begin
    Delete(Paths, P, Length(Dir) + 1);
    RegWriteExpandStringValue(HKCU, 'Environment', 'Path', Paths);
  end;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFromPath(ExpandConstant('{app}'));
end;
